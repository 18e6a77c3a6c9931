"""Simplified Chinese formats that differ from Django's zh_Hans, which groups digits by four
without a separator: amounts are grouped by three digits with commas, as Chinese banks print
them, and short dates are ISO dates."""

DATE_FORMAT = "Y年n月j日"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y年n月j日 H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3

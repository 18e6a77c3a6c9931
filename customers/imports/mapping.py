"""The portal's import fields and the mapping from a file's headers to them.

A mapping is a dict from header to field name. Two special targets exist: EXTRA keeps the
column in the record's `extra` JSON under its header, and IGNORE drops it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import values
from .report import ImportInvalid

EXTRA = ""
IGNORE = "-"


class MappingInvalid(ImportInvalid):
    pass


@dataclass(frozen=True)
class ImportField:
    name: str
    label: str
    parse: Callable[[str], object]
    aliases: tuple[str, ...] = ()
    required: bool = False
    # The parser for cells of XLSX files when they need another one, e.g. to accept Excel
    # date serial numbers, which in a CSV file would be a guess.
    xlsx_parse: Callable[[str], object] | None = None
    # Reject values that look rounded by Excel only when another value of the column shows
    # Excel damage, because valid values of this field can end in zeros (see id_number_parse).
    rounding_checked_per_column: bool = False


def header_normalize(header: str) -> str:
    """Fold a header for matching: full-width to ASCII, lower case, no spaces, dashes or underscores."""
    folded = values.text_normalize(header).lower()
    for character in (" ", "_", "-", "\u3000"):
        folded = folded.replace(character, "")
    return folded


ROSTER_FIELDS = [
    ImportField("customer_no", gettext_lazy("Customer number"), values.identifier_parser(32),
                ("customer_no", "customerno", "customer number", "customer id", "客户号", "客户编号", "客户代码", "客户id"), True),
    ImportField("name", gettext_lazy("Name"), values.text_parser(100), ("name", "customer name", "姓名", "客户姓名", "客户名称")),
    ImportField("gender", gettext_lazy("Gender"), values.gender_parse, ("gender", "sex", "性别")),
    ImportField("birth_date", gettext_lazy("Birth date"), values.date_parse,
                ("birth_date", "birthdate", "date of birth", "dob", "出生日期", "生日"),
                xlsx_parse=values.xlsx_date_parse),
    ImportField("age", gettext_lazy("Age"), lambda value: values.integer_parse(value, minimum=0, maximum=150), ("age", "年龄")),
    ImportField("phone", gettext_lazy("Phone"), values.phone_parse,
                ("phone", "mobile", "mobile phone", "telephone", "手机号", "手机号码", "手机", "电话", "联系电话")),
    ImportField("email", gettext_lazy("E-mail"), values.email_parse, ("email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件")),
    ImportField("id_number", gettext_lazy("ID number"), values.id_number_parse,
                ("id_number", "id number", "id no", "身份证号", "身份证号码", "证件号码", "证件号"),
                rounding_checked_per_column=True),
    ImportField("occupation", gettext_lazy("Occupation"), values.text_parser(100), ("occupation", "job", "职业")),
    ImportField("marital_status", gettext_lazy("Marital status"), values.text_parser(30),
                ("marital_status", "marital", "婚姻状况", "婚姻")),
    ImportField("education", gettext_lazy("Education"), values.text_parser(50), ("education", "学历", "教育程度")),
    ImportField("credit_default", gettext_lazy("Credit in default"), values.boolean_parse,
                ("credit_default", "default", "违约", "信用违约")),
    ImportField("housing_loan", gettext_lazy("Housing loan"), values.boolean_parse, ("housing_loan", "housing", "房贷", "住房贷款")),
    ImportField("personal_loan", gettext_lazy("Personal loan"), values.boolean_parse,
                ("personal_loan", "loan", "个人贷款", "消费贷款")),
    ImportField("branch", gettext_lazy("Branch code"), values.text_parser(20),
                ("branch", "branch code", "branch_code", "分支机构", "分支机构代码", "网点", "网点代码", "机构号", "机构代码")),
    ImportField("client_manager", gettext_lazy("Client manager (username)"), values.text_parser(150),
                ("client_manager", "client manager", "manager", "客户经理", "客户经理工号", "客户经理用户名")),
    ImportField("aum", gettext_lazy("AUM (CNY)"), values.amount_parse,
                ("aum", "balance", "资产", "资产规模", "aum(元)", "aum余额", "金融资产", "资产余额")),
    ImportField("risk_level", gettext_lazy("Risk level"), values.text_parser(10), ("risk_level", "risk level", "风险等级", "风险评级")),
    ImportField("do_not_contact", gettext_lazy("Do not contact"), values.boolean_parse,
                ("do_not_contact", "do not contact", "dnc", "勿扰", "是否勿扰", "拒绝营销")),
]

# Bank-marketing names ("y", "contact", "campaign", "duration") are accepted as aliases.
OUTCOME_FIELDS = [
    ImportField("customer_no", gettext_lazy("Customer number"), values.identifier_parser(32),
                ("customer_no", "customerno", "customer number", "customer id", "客户号", "客户编号"), True),
    ImportField("outcome", gettext_lazy("Outcome"), lambda value: value, ("outcome", "result", "y", "跟进结果", "结果"), True),
    ImportField("channel", gettext_lazy("Channel"), lambda value: value, ("channel", "contact", "联系方式", "渠道")),
    ImportField("attempts", gettext_lazy("Attempts"), lambda value: values.integer_parse(value, minimum=0),
                ("attempts", "campaign", "联系次数", "次数")),
    ImportField("duration_seconds", gettext_lazy("Call length (seconds)"), lambda value: values.integer_parse(value, minimum=0),
                ("duration_seconds", "duration", "通话时长", "时长")),
    ImportField("contacted_at", gettext_lazy("Contacted at"), values.datetime_parse,
                ("contacted_at", "contact date", "date", "联系时间", "联系日期")),
    ImportField("note", gettext_lazy("Note"), lambda value: value.strip(), ("note", "notes", "remark", "备注")),
]


def fields_by_name(fields: list[ImportField]) -> dict[str, ImportField]:
    return {import_field.name: import_field for import_field in fields}


def mapping_suggest(*, headers: list[str], fields: list[ImportField]) -> dict[str, str]:
    """Return a mapping that sends each header matching a field's name or alias to that field.

    The first matching header wins a field; the rest go to EXTRA."""
    alias_to_field = {}
    for import_field in fields:
        for alias in (import_field.name, *import_field.aliases):
            alias_to_field.setdefault(header_normalize(alias), import_field.name)
    mapping = {}
    mapped_fields = set()
    for header in headers:
        field_name = alias_to_field.get(header_normalize(header))
        if field_name and field_name not in mapped_fields:
            mapping[header] = field_name
            mapped_fields.add(field_name)
        else:
            mapping[header] = EXTRA
    return mapping


def mapping_validate(*, mapping: dict[str, str], headers: list[str], fields: list[ImportField]) -> dict[str, int]:
    """Check a mapping against the file's headers and return {field name: column index}.

    Raises MappingInvalid when a header is not in the file, a field is unknown or used twice,
    or a required field is not mapped."""
    known = fields_by_name(fields)
    field_columns: dict[str, int] = {}
    for header, field_name in mapping.items():
        if header not in headers:
            raise MappingInvalid(_("The column %(header)r is not in the file.") % {"header": header})
        if field_name in (EXTRA, IGNORE):
            continue
        if field_name not in known:
            raise MappingInvalid(
                _("Unknown field %(field)r for column %(header)r.") % {"field": field_name, "header": header}
            )
        if field_name in field_columns:
            raise MappingInvalid(
                _("The field %(field)r is mapped from two columns: %(first)r and %(second)r.")
                % {"field": field_name, "first": headers[field_columns[field_name]], "second": header}
            )
        field_columns[field_name] = headers.index(header)
    for import_field in fields:
        if import_field.required and import_field.name not in field_columns:
            raise MappingInvalid(
                _("No column is mapped to the required field %(field)s.") % {"field": import_field.label}
            )
    return field_columns


def extra_columns(*, mapping: dict[str, str], headers: list[str]) -> list[tuple[str, int]]:
    """Return (header, index) of the columns kept in `extra`: unmapped ones and those mapped to EXTRA."""
    return [
        (header, index)
        for index, header in enumerate(headers)
        if mapping.get(header, EXTRA) == EXTRA
    ]


def mapping_from_pairs(
    *, pairs: list[str], headers: list[str], fields: list[ImportField], base: dict[str, str] | None = None
) -> dict[str, str]:
    """Apply command-line "header=field" overrides on top of `base`, by default the suggested mapping."""
    mapping = dict(base) if base is not None else mapping_suggest(headers=headers, fields=fields)
    for pair in pairs:
        header, separator, field_name = pair.partition("=")
        if not separator:
            raise MappingInvalid(_("Invalid mapping %(pair)r: use header=field.") % {"pair": pair})
        header = header.strip()
        field_name = field_name.strip()
        if field_name.lower() == "extra":
            field_name = EXTRA
        # Moving a field to this header takes it away from the header the suggestion gave it.
        for other, mapped in mapping.items():
            if mapped == field_name and field_name not in (EXTRA, IGNORE):
                mapping[other] = EXTRA
        mapping[header] = field_name
    return mapping


def profile_mapping_build(*, mapping: dict[str, str]) -> dict[str, str]:
    """Return a file mapping keyed by folded headers, as ImportProfile.mapping stores it."""
    return {header_normalize(header): field_name for header, field_name in mapping.items()}


def mapping_from_profile(*, profile_mapping: dict[str, str], headers: list[str], fields: list[ImportField]) -> dict[str, str]:
    """Return a mapping for `headers` from a profile's folded-header mapping.

    Headers the profile does not know get the suggestion, unless the profile already maps
    their suggested field to another column, in which case they go to EXTRA."""
    suggested = mapping_suggest(headers=headers, fields=fields)
    known = fields_by_name(fields)
    from_profile = {
        header: profile_mapping[header_normalize(header)]
        for header in headers
        if header_normalize(header) in profile_mapping
        and profile_mapping[header_normalize(header)] in (EXTRA, IGNORE, *known)
    }
    taken = {field_name for field_name in from_profile.values() if field_name not in (EXTRA, IGNORE)}
    mapping = {}
    for header in headers:
        if header in from_profile:
            mapping[header] = from_profile[header]
        elif suggested[header] not in taken:
            mapping[header] = suggested[header]
            taken.add(suggested[header])
        else:
            mapping[header] = EXTRA
    return mapping

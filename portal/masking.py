"""Masking of personal identifiers for lists, exports, e-mails and logs."""


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits of a mobile number: 138****5678."""
    value = (value or "").strip()
    if len(value) <= 7:
        return "*" * len(value)
    return f"{value[:3]}{'*' * (len(value) - 7)}{value[-4:]}"


def mask_id_number(value: str) -> str:
    """Keep the first and last four characters of an ID number: 1101**********123X."""
    value = (value or "").strip()
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def mask_email(value: str) -> str:
    """Keep the first character of the local part and the domain: z***@bank.example."""
    value = (value or "").strip()
    if "@" not in value:
        return "*" * len(value)
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"

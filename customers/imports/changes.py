"""The first changes per field that a roster preview shows: for each changed field, how many
customers change and a few examples of the value before and after.

Phone numbers, ID numbers and e-mail addresses are masked, because the summary is stored on
the import record and shown to every platform operator."""

from portal.masking import mask_email, mask_id_number, mask_phone
from portal.models import User

# Examples kept per field; the count covers every changed customer.
CHANGE_EXAMPLE_LIMIT = 5
MASKS = {"phone": mask_phone, "id_number": mask_id_number, "email": mask_email}
# Fields whose value is an id, shown as the referenced object's code or username.
REFERENCE_FIELDS = {"branch": "branch_id", "client_manager": "client_manager_id", "tier": "tier_id"}


def change_state(customer) -> dict[str, object]:
    """Return the customer's field values that a roster row can change, ids for references."""
    state = {
        field.attname: getattr(customer, field.attname)
        for field in customer._meta.concrete_fields
        if field.attname not in {"id", "customer_no", "created_at", "updated_at"}
    }
    return state


class ChangeSamples:
    """Counts and the first CHANGE_EXAMPLE_LIMIT examples of the changes of each field.

    `references` supplies the branches and users the import loaded, and `tiers` its tiers. The
    usernames of other client managers in the examples are read in one query by as_summary."""

    def __init__(self, *, references, tiers):
        self.branch_codes = {pk: branch.code for pk, branch in references.branches_by_id.items()}
        self.tier_codes = {tier.pk: tier.code for tier in tiers}
        self.usernames = {user.pk: user.username for user in references.staff_by_username.values()}
        self.usernames.update({pk: user.username for pk, user in references.staff_by_id.items()})
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[list[str]]] = {}

    def add(self, *, customer, previous: dict[str, object], changed_fields: set[str]) -> None:
        for field_name in sorted(changed_fields):
            self.counts[field_name] = self.counts.get(field_name, 0) + 1
            examples = self.examples.setdefault(field_name, [])
            if len(examples) >= CHANGE_EXAMPLE_LIMIT:
                continue
            attname = REFERENCE_FIELDS.get(field_name, field_name)
            before = self.display(field_name, previous.get(attname))
            after = self.display(field_name, getattr(customer, attname))
            examples.append([customer.customer_no, before, after])

    def display(self, field_name: str, value) -> str:
        if value is None or value == "":
            return ""
        if field_name in MASKS:
            return MASKS[field_name](str(value))
        if field_name == "branch":
            return self.branch_codes.get(value, str(value))
        if field_name == "tier":
            return self.tier_codes.get(value, str(value))
        if field_name == "client_manager":
            # Replaced by the username in as_summary.
            return value
        if field_name == "extra":
            return ", ".join(f"{key}={text}" for key, text in sorted(value.items()))
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    def as_summary(self) -> dict[str, dict]:
        """Return {field name: {"count": n, "examples": [[customer number, before, after], ...]}}."""
        manager_examples = self.examples.get("client_manager", [])
        unknown = {value for example in manager_examples for value in example[1:] if value and value not in self.usernames}
        if unknown:
            self.usernames.update(User.objects.filter(pk__in=unknown).values_list("pk", "username"))
        for example in manager_examples:
            example[1:] = [self.usernames.get(value, str(value)) if value else "" for value in example[1:]]
        return {
            field_name: {"count": count, "examples": self.examples[field_name]}
            for field_name, count in sorted(self.counts.items())
        }

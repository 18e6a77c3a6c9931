"""Campaign segments made from one list of a roster diff (new, missing, upgraded, downgraded
customers or AUM drops), through the roster filter's roster_change parameter."""

import logging

from django.utils.translation import gettext as _

from campaigns.models import Segment
from campaigns.services import segment_create
from customers.models import RosterChange, RosterImport
from portal.models import User

logger = logging.getLogger(__name__)

SEGMENT_NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length


def roster_change_value(*, roster_import: RosterImport, kind: str) -> str:
    """Return the roster filter's roster_change value that selects this diff list."""
    return f"{roster_import.pk}:{kind}"


def roster_change_segment_create(*, roster_import: RosterImport, kind: str, actor: User) -> Segment:
    """Save the customers of one diff list of `roster_import` as a segment. Its saved filter
    is the list itself, so the segment keeps selecting exactly these customers when the
    roster changes later. Raises SegmentInvalid (from segment_create) if the filter is rejected."""
    label = RosterChange.Kind(kind).label
    name = _("%(list)s · %(file)s") % {"list": label, "file": roster_import.original_name}
    if len(name) > SEGMENT_NAME_MAX_LENGTH:
        name = name[: SEGMENT_NAME_MAX_LENGTH - 1] + "…"
    description = _("The customers listed as “%(list)s” by roster import %(id)s (%(file)s).") % {
        "list": label, "id": roster_import.pk, "file": roster_import.original_name,
    }
    segment = segment_create(
        actor=actor,
        name=name,
        description=description,
        filters={"roster_change": roster_change_value(roster_import=roster_import, kind=kind)},
    )
    logger.info("Segment %s: made by %s from roster import %s, list %s", segment.pk, actor.username, roster_import.pk, kind)
    return segment

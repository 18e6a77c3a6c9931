"""Query expressions Django does not ship."""

from django.db.models import Lookup


class EqualsAny(Lookup):
    """A lookup `lhs = ANY(rhs)` with an array, such as an ArraySubquery, on the right. It is an
    expression for filter(): `filter(EqualsAny(F("pk"), ArraySubquery(ids)))`. PostgreSQL only."""

    lookup_name = "equals_any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)

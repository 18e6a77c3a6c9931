"""Query expressions Django does not ship."""

from django.db.models import Lookup


class EqualsAny(Lookup):
    """`lhs = ANY(rhs)` for an array on the right, such as an ArraySubquery. Use it in filter()
    as an expression: `filter(EqualsAny(F("pk"), ArraySubquery(ids)))`. PostgreSQL only."""

    lookup_name = "equals_any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)

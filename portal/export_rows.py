"""Rows of a django-tables2 table for an export, read with `.values_list()` where possible.

django-tables2 builds each cell through `BoundRow`: it resolves the accessor, looks for a choice
label, and calls the column's value method through `inspect.signature`, once per cell. On a
queryset of model instances that cost 59 s of CPU time for a CSV of 100,411 tasks (see
docs/benchmarks.md), against 2.5 s through this module. `fast_rows` plans each column once
instead: the database lookup that returns its value, any foreign key to turn back into a model
instance (loaded once per id), the choice labels, and the value method with the arguments it
takes. Every cell then costs a few dictionary and function calls, and no model instance of the
listed model is built.

A column whose value method needs the record gets it from one extra query per chunk and is
computed by django-tables2 itself. A table that cannot be planned at all (list data, a sliced
or `.values()` queryset, a value method that takes `bound_row`) returns None from
`plan_columns`, and its caller uses django-tables2's own rows."""

from dataclasses import dataclass
from itertools import islice

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.db.models.query import ModelIterable
from django.utils.encoding import force_str
from django_tables2.columns.linkcolumn import BaseLinkColumn
from django_tables2.data import TableQuerysetData
from django_tables2.rows import BoundRow
from django_tables2.utils import Accessor, signature

# Arguments of a value method that the planner can pass without a BoundRow.
_PLANNABLE_ARGUMENTS = {"value", "record", "column", "bound_column", "table"}
# Maximum number of model instances cached per foreign key. Tiers, branches, campaigns and
# users repeat across rows and stay loaded. A column with a different related row on every row
# (such as a customer) is loaded chunk by chunk, because the cache is emptied at this size.
RELATED_CACHE_LIMIT = 20_000


class _Unplannable(Exception):
    """A column whose value django-tables2 must compute with a BoundRow."""


@dataclass
class ColumnPlan:
    """The plan of one export column: where its value is in a `values_list()` row and how it
    becomes the export value."""

    bound_column: object
    index: int | None = None  # Position of the lookup in the values_list row; None reads the record.
    related: object = None  # Foreign key field whose id the lookup returns, to load as an instance.
    remainder: Accessor | None = None  # Accessor bits resolved in Python after the lookup.
    labels: dict | None = None  # Choice value to its label in the active language.
    is_date: bool = False  # Date and date-time columns export the raw value, not their text.
    value_function: object = None  # Value method, or None when the value is exported as it is.
    value_arguments: tuple = ()
    needs_record: bool = False


@dataclass
class TablePlan:
    queryset: object
    lookups: list
    columns: list

    @property
    def needs_records(self) -> bool:
        return any(column.needs_record or column.index is None for column in self.columns)


def plan_columns(table, columns):
    """Return a TablePlan for `columns` of `table`, or None when the table's rows must come
    from django-tables2."""
    if not isinstance(table.data, TableQuerysetData):
        return None
    queryset = table.data.data
    if queryset.query.is_sliced or queryset._iterable_class is not ModelIterable or queryset._fields:
        return None
    lookups = []
    plans = []
    try:
        for bound_column in columns:
            plans.append(_plan_column(table, queryset, bound_column, lookups))
    except _Unplannable:
        return None
    return TablePlan(queryset=queryset, lookups=lookups, columns=plans)


def _plan_column(table, queryset, bound_column, lookups):
    column = bound_column.column
    plan = ColumnPlan(bound_column=bound_column)
    plan.is_date = isinstance(column, (tables.DateTimeColumn, tables.DateColumn))
    if not plan.is_date:
        plan.value_function, plan.value_arguments = _value_function(bound_column)
        plan.needs_record = "record" in plan.value_arguments

    accessor = bound_column.accessor
    if callable(accessor) or not isinstance(accessor, str):
        return plan  # Read from the record by django-tables2.
    lookup, related, field, remainder = _walk_accessor(queryset, Accessor(accessor))
    if lookup is None:
        return plan
    if lookup not in lookups:
        lookups.append(lookup)
    plan.index = lookups.index(lookup) + 1  # Position 0 is the primary key.
    plan.related = related
    plan.remainder = Accessor(remainder) if remainder else None
    if field is not None and not remainder and getattr(field, "choices", None) and not plan.is_date:
        # Model.get_FOO_display() returns the value itself when it is not one of the choices.
        plan.labels = {value: force_str(label, strings_only=True) for value, label in field.flatchoices}
    return plan


def _walk_accessor(queryset, accessor):
    """Split `accessor` into the longest database lookup and the bits left for Python.

    Return (lookup, related, field, remainder): `related` is the foreign key when the lookup
    ends on one (values_list returns its id), `field` the concrete field it ends on. The lookup
    is None when the accessor does not start with a field or an annotation."""
    bits = list(accessor.bits)
    if not bits:
        return None, None, None, None
    if bits[0] in queryset.query.annotations:
        return bits[0], None, None, "__".join(bits[1:])
    model = queryset.model
    path = []
    related = None
    field = None
    for bit in bits:
        if field is not None and not field.is_relation:
            break  # A key of a JSON field or an attribute of a value: resolved in Python.
        try:
            field = model._meta.pk if bit == "pk" else model._meta.get_field(bit)
        except FieldDoesNotExist:
            break
        if field.is_relation and not (field.many_to_one or (field.one_to_one and field.concrete)):
            # Many-to-many and reverse relations have no single value per row.
            raise _Unplannable(accessor)
        path.append(bit)
        related = field if field.is_relation else None
        model = field.related_model if field.is_relation else model
    if not path:
        return None, None, None, None
    remainder = "__".join(bits[len(path):])
    return "__".join(path), related, (None if related else field), remainder


def _value_function(bound_column):
    """Return the function that turns a cell's value into its export value, with the names
    of the arguments it takes, or (None, ()) when the export value is the value itself."""
    column = bound_column.column
    function = bound_column.value
    owner = getattr(function, "__self__", None)
    if owner is column:
        if isinstance(column, BaseLinkColumn) and type(column).value is BaseLinkColumn.value:
            if column.text is None:
                return None, ()
            function = column.value
        elif type(column).value is tables.Column.value:
            # Column.value returns what the column's render() returns.
            if type(column).render is tables.Column.render:
                return None, ()
            function = column.render
    arguments, catch_all = signature(function)
    if catch_all or not set(arguments) <= _PLANNABLE_ARGUMENTS:
        raise _Unplannable(bound_column.name)
    return function, tuple(arguments)


def fast_rows(table, plan: TablePlan, chunk_size: int):
    """Yield one list of export values per row, in the queryset's order. Date-times are left
    aware, as django-tables2's accessor returns them."""
    queryset = plan.queryset
    rows = queryset.values_list("pk", *plan.lookups).iterator(chunk_size=chunk_size)
    caches = {}
    while True:
        chunk = list(islice(rows, chunk_size))
        if not chunk:
            return
        records = _records(queryset, chunk) if plan.needs_records else {}
        related = _load_related(plan, chunk, caches)
        for row in chunk:
            record = records.get(row[0])
            yield [_cell(table, column, row, record, related) for column in plan.columns]


def _cell(table, column: ColumnPlan, row, record, related):
    bound_column = column.bound_column
    if column.index is None:
        if column.is_date:
            return bound_column.accessor.resolve(record, quiet=True)
        return BoundRow(record, table=table).get_cell_value(bound_column.name)
    value = row[column.index]
    if column.related is not None and value is not None:
        value = related[column.related].get(value)
    if column.remainder is not None and value is not None:
        value = column.remainder.resolve(value, quiet=True)
    if column.is_date:
        return value
    if column.labels is not None:
        value = column.labels.get(value, value)
    if value in bound_column.column.empty_values:
        return None
    if column.value_function is None:
        return value
    arguments = {
        "value": value,
        "record": record,
        "column": bound_column.column,
        "bound_column": bound_column,
        "table": table,
    }
    return column.value_function(**{name: arguments[name] for name in column.value_arguments})


def _records(queryset, chunk):
    """Load the model instances of one chunk, for the columns whose value needs the record."""
    primary_keys = [row[0] for row in chunk]
    return {record.pk: record for record in queryset.filter(pk__in=primary_keys).order_by()}


def _load_related(plan: TablePlan, chunk, caches):
    """Return, per foreign key, the related instances by id that this chunk refers to."""
    for column in plan.columns:
        field = column.related
        if field is None or column.index is None:
            continue
        cache = caches.setdefault(field, {})
        needed = {row[column.index] for row in chunk} - {None}
        missing = needed - cache.keys()
        if not missing:
            continue
        if len(cache) + len(missing) > RELATED_CACHE_LIMIT:
            still_needed = {key: cache[key] for key in needed & cache.keys()}
            cache.clear()
            cache.update(still_needed)
        target = field.remote_field.field_name
        manager = field.related_model._base_manager
        cache.update(manager.in_bulk(missing, field_name=target))
    return caches

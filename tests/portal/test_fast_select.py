"""FastSelect writes the same markup as Django's Select template, with one query for its choices."""

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_filters.fields import ModelChoiceField

from portal.models import Role, User
from portal.widgets import FastSelect, UserChoiceField
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WIDGET_ATTRS = {"id": "id_manager", "aria-invalid": "true", "required": True, "disabled": False}


@pytest.fixture
def managers():
    UserFactory(role=Role.CLIENT_MANAGER, first_name="伟", last_name="王")
    UserFactory(role=Role.CLIENT_MANAGER, username="o'brien&co", first_name="", last_name="")
    return list(User.objects.filter(role=Role.CLIENT_MANAGER))


def render_both(queryset, value, **field_options):
    template_field = forms.ModelChoiceField(queryset, widget=forms.Select(attrs={"class": "form-select"}), **field_options)
    fast_field = forms.ModelChoiceField(queryset, widget=FastSelect(attrs={"class": "form-select"}), **field_options)
    return (
        template_field.widget.render("manager", value, WIDGET_ATTRS),
        fast_field.widget.render("manager", value, WIDGET_ATTRS),
    )


@pytest.mark.parametrize("value_index", [None, 0, 1])
def test_fast_select_matches_template(managers, value_index):
    value = None if value_index is None else managers[value_index].pk
    template_html, fast_html = render_both(User.objects.filter(role=Role.CLIENT_MANAGER), value)
    assert fast_html == template_html
    assert "o&#x27;brien&amp;co" in fast_html


def test_fast_select_unknown_value_selects_nothing(managers):
    template_html, fast_html = render_both(User.objects.filter(role=Role.CLIENT_MANAGER), "999999")
    assert fast_html == template_html
    assert " selected" not in fast_html


def test_fast_select_plain_choices():
    choices = [("", "Any"), ("null", "No tier"), ("a", "<b>")]
    for value in ("", "null", "a", None):
        assert FastSelect(choices=choices).render("tier", value) == forms.Select(choices=choices).render("tier", value)


def test_fast_select_groups_use_template():
    choices = [("Group", [("a", "A"), ("b", "B")]), ("c", "C")]
    assert FastSelect(choices=choices).render("x", "b") == forms.Select(choices=choices).render("x", "b")


def test_fast_select_one_query(managers):
    field = forms.ModelChoiceField(User.objects.filter(role=Role.CLIENT_MANAGER), widget=FastSelect)
    with CaptureQueriesContext(connection) as queries:
        field.widget.render("manager", None)
    assert len(queries) == 1
    assert "COUNT(" not in queries[0]["sql"].upper()


@pytest.mark.parametrize("value_index", [None, 0, 1])
@pytest.mark.parametrize("null_label", [None, "No client manager"])
def test_user_choices_match_model_choices(managers, value_index, null_label):
    value = None if value_index is None else managers[value_index].pk
    queryset = User.objects.filter(role=Role.CLIENT_MANAGER).order_by("username")
    model_field = ModelChoiceField(queryset=queryset, null_label=null_label, widget=FastSelect)
    user_field = UserChoiceField(queryset=queryset, null_label=null_label, widget=FastSelect)

    user_html = user_field.widget.render("manager", value, WIDGET_ATTRS)

    assert user_html == model_field.widget.render("manager", value, WIDGET_ATTRS)
    assert ">王伟</option>" in user_html
    assert (">No client manager</option>" in user_html) == (null_label is not None)


def test_user_choices_build_no_user(managers, monkeypatch):
    field = UserChoiceField(queryset=User.objects.filter(role=Role.CLIENT_MANAGER), widget=FastSelect)

    def reject(*args, **kwargs):
        raise AssertionError("a User instance was built")

    monkeypatch.setattr(User, "from_db", classmethod(reject))
    assert "王伟" in field.widget.render("manager", None, WIDGET_ATTRS)

"""Role checks for views. Which rows a user sees is decided by the selectors; these decorators
decide which pages and actions a role may use at all."""

from functools import wraps

from django.core.exceptions import PermissionDenied

from .models import Role

PLATFORM = (Role.PLATFORM,)
SUPERVISION = (Role.PLATFORM, Role.SUPERVISOR)
STAFF_WITH_CUSTOMERS = (Role.PLATFORM, Role.SUPERVISOR, Role.CLIENT_MANAGER)


def user_has_role(user, roles) -> bool:
    return user.is_authenticated and user.is_active and user.role in roles


def role_required(*roles):
    """Raise PermissionDenied (403) unless the signed-in user has one of `roles`."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_has_role(request.user, roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator

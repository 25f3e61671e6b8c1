"""People who work with CartAssist: agents, supervisors, merchandisers.

A console user needs two things (agents/permissions.py): membership of the Agents or
Supervisors group, and an ``AgentProfile`` that names their site, the display name
shoppers see and how many chats they take at once. A merchandiser needs the admin
(``is_staff``) and the Merchandisers group. ``staff_member_setup`` gives a person
exactly that; docs/OPERATIONS.md, "First set-up", shows it from the command line
(``manage.py cartassist_user``) and in the admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from agents.models import AgentProfile
from cartassist.carts.models import Site
from cartassist.core.roles import Role, groups_ensure


@dataclass(frozen=True)
class StaffMember:
    user: User
    created: bool
    profile: AgentProfile | None


@transaction.atomic
def staff_member_setup(
    *,
    username: str,
    role: Role,
    password: str | None = None,
    email: str | None = None,
    site: Site | None = None,
    display_name: str | None = None,
    capacity: int | None = None,
) -> StaffMember:
    """Create the user ``username`` with ``role``, or give an existing user that role.

    1. The role groups are repaired (``groups_ensure``) and the user joins the role's
       group; merchandisers and supervisors also get the admin (``is_staff``).
    2. A new user needs ``password`` (checked by Django's password validators); an
       existing one keeps theirs unless one is given.
    3. Agents and supervisors get an ``AgentProfile`` for ``site`` (required when they
       have none yet): ``display_name`` (default: the username) and ``capacity``
       (default 3); supervisors' profiles are marked ``is_supervisor``. What is not
       given keeps its current value.

    Raises ``ValidationError`` and changes nothing on bad input."""
    user = User.objects.filter(username=username).first()
    created = user is None
    if user is None:
        if not password:
            raise ValidationError({"password": ["A new user needs a password."]})
        user = User(username=username)
        user.full_clean(exclude=["password"])
    if password:
        validate_password(password, user)
        user.set_password(password)
    if email is not None:
        user.email = email
    if role.is_staff:
        user.is_staff = True
    user.save()
    user.groups.add(groups_ensure()[role.group])
    profile = None
    if role.works_in_console:
        profile = _profile_setup(
            user=user, role=role, site=site, display_name=display_name, capacity=capacity
        )
    return StaffMember(user=user, created=created, profile=profile)


def _profile_setup(
    *,
    user: User,
    role: Role,
    site: Site | None,
    display_name: str | None,
    capacity: int | None,
) -> AgentProfile:
    profile = AgentProfile.objects.filter(user=user).first()
    if profile is None:
        if site is None:
            raise ValidationError({"site": [f"Name the site this {role.value} works for."]})
        profile = AgentProfile(user=user, site=site, display_name=user.username, capacity=3)
    if site is not None:
        profile.site = site
    if display_name is not None:
        profile.display_name = display_name
    if capacity is not None:
        profile.capacity = capacity
    if role == Role.SUPERVISOR:
        profile.is_supervisor = True
    profile.full_clean()
    profile.save()
    return profile

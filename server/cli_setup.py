"""`jigsaw` commands that set up an empty install from a shell: agencies, teams, members
and children. They act as the operator at the server (audited as the system) through the
same feeds actions as the administrators' pages and API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import click

from feeds.audit.records import SYSTEM
from feeds.models import Agency, Professional, Sector, Team


def _run(work: Callable[[], Awaitable[str]]) -> None:
    from server.cli import _settings, run_with_db

    click.echo(run_with_db(_settings(), work))


async def _agency(name: str) -> Agency:
    agency = await Agency.get_or_none(name__iexact=name.strip())
    if agency is None:
        raise click.ClickException(f"No agency called {name}: create it with create-agency.")
    return agency


async def _team(name: str) -> Team:
    team = await Team.get_or_none(name__iexact=name.strip())
    if team is None:
        raise click.ClickException(f"No team called {name}: create it with create-team.")
    return team


async def _person(email: str) -> Professional:
    person = await Professional.get_or_none(email=email.strip().lower(), is_active=True)
    if person is None:
        raise click.ClickException(f"No active professional with email {email}.")
    return person


@click.command("create-agency")
@click.option("--name", required=True)
@click.option("--sector", required=True, type=click.Choice([s.value for s in Sector]))
def create_agency(name: str, sector: str) -> None:
    """Create an agency (a council's children's services, a health trust, a school...)."""
    from feeds.organisation.agencies import do_create_agency

    async def work() -> str:
        agency = await do_create_agency(None, name, sector, SYSTEM)
        return f"Created agency {agency.name} ({agency.sector}), id {agency.id}"

    _run(work)


@click.command("create-team")
@click.option("--name", required=True)
@click.option("--agency", required=True, help="The agency's name.")
def create_team(name: str, agency: str) -> None:
    """Create a team in an agency."""
    from feeds.organisation.teams import do_create_team

    async def work() -> str:
        team = await do_create_team(None, name, (await _agency(agency)).id, SYSTEM)
        return f"Created team {team.name}, id {team.id}"

    _run(work)


@click.command("add-member")
@click.option("--team", required=True, help="The team's name.")
@click.option("--email", required=True, help="The professional's email.")
@click.option("--manager", is_flag=True, help="They manage the team.")
def add_member(team: str, email: str, manager: bool) -> None:
    """Add a professional to a team (again, to change whether they manage it)."""
    from feeds.organisation.teams import do_add_member

    async def work() -> str:
        found, person = await _team(team), await _person(email)
        joined = await do_add_member(None, found.id, person.id, manager, SYSTEM)
        verb = "Added" if joined.added else "Updated"
        role = "manager" if manager else "member"
        return f"{verb} {person.email} in {found.name} as {role}"

    _run(work)


@click.command("create-child")
@click.option("--name", "display_name", required=True, help="The name shown on the record.")
@click.option("--reference", required=True, help="Unique case reference.")
@click.option("--date-of-birth", required=True, help="YYYY-MM-DD.")
@click.option("--lead", required=True, help="Email of the lead professional.")
@click.option("--school", default="")
@click.option("--area", default="")
@click.option("--team", default="", help="Also give this team access (its name).")
def create_child(
    display_name: str,
    reference: str,
    date_of_birth: str,
    lead: str,
    school: str,
    area: str,
    team: str,
) -> None:
    """Create a child's record; the lead professional (and --team) get access."""
    from feeds.records.children import do_create_child

    async def work() -> str:
        data: dict[str, object] = {
            "display_name": display_name,
            "reference": reference,
            "date_of_birth": date_of_birth,
            "lead_professional_id": (await _person(lead)).id,
            "school": school,
            "area": area,
        }
        if team:
            data["team_id"] = (await _team(team)).id
        child = await do_create_child(None, data, SYSTEM)
        return f"Created child {child.reference}, id {child.id}"

    _run(work)


COMMANDS = [create_agency, create_team, add_member, create_child]

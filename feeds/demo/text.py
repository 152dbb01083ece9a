"""Text material for the demo data: agencies, people, places and post templates.

Everything here is fictional. "Northgate" is an invented local authority; any
resemblance of a name to a real person, school or service is a coincidence.
Templates use ``str.format`` placeholders filled by ``feeds.demo.seed``: {child}, {sibling},
{mum}, {partner}, {school}, {gp}, {day}, {time}, {appt}.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from feeds.models import PostKind, Role, Sector


def _words(names: str) -> tuple[str, ...]:
    return tuple(names.split())


class AgencySpec(NamedTuple):
    key: str
    name: str
    sector: Sector
    domain: str  # email domain is <domain>.demo.jigsaw.test


class TeamSpec(NamedTuple):
    key: str
    name: str
    agency: str


class StaffSpec(NamedTuple):
    """A group of generated professionals with the same job."""

    job_title: str
    agency: str
    voice: str  # which templates they write with; see TEMPLATES
    headcount: int
    team: str | None = None
    is_manager: bool = False


class PersonSpec(NamedTuple):
    """One professional: the fixed demo logins, and each generated member of staff."""

    email: str
    name: str
    job_title: str
    agency: str
    voice: str
    role: Role
    team: str | None = None
    is_manager: bool = False


AGENCIES: tuple[AgencySpec, ...] = (
    AgencySpec("cs", "Northgate Children's Services", Sector.SOCIAL_CARE, "northgate-cs"),
    AgencySpec(
        "community", "Northgate and Vale Community Health NHS Trust", Sector.HEALTH, "nvch-nhs"
    ),
    AgencySpec("gp", "Northgate Primary Care Network", Sector.HEALTH, "northgate-pcn"),
    AgencySpec("schools", "Northgate Learning Trust", Sector.EDUCATION, "northgate-lt"),
    AgencySpec("police", "Northshire Police", Sector.POLICE, "northshire-police"),
    AgencySpec("harbour", "Harbour Family Support", Sector.VOLUNTARY, "harbour-fs"),
)

TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec("assessment", "Northgate Assessment Team", "cs"),
    TeamSpec("protection", "Northgate Child Protection Team", "cs"),
    TeamSpec("hv_east", "East Health Visiting Team", "community"),
    TeamSpec("ppu", "Public Protection Unit (Northgate)", "police"),
    TeamSpec("early_help", "Harbour Early Help Team", "harbour"),
)

LOGINS: tuple[PersonSpec, ...] = (
    PersonSpec(
        "admin@demo.jigsaw.test",
        "Alex Morgan",
        "Jigsaw service administrator",
        "cs",
        "social",
        Role.ADMIN,
    ),
    PersonSpec(
        "manager@demo.jigsaw.test",
        "Priya Raman",
        "Team manager",
        "cs",
        "social",
        Role.MANAGER,
        "assessment",
        True,
    ),
    PersonSpec(
        "practitioner@demo.jigsaw.test",
        "Sam Okafor",
        "Social worker",
        "cs",
        "social",
        Role.PRACTITIONER,
        "assessment",
    ),
    PersonSpec(
        "healthvisitor@demo.jigsaw.test",
        "Helen Doyle",
        "Health visitor",
        "community",
        "health",
        Role.PRACTITIONER,
        "hv_east",
    ),
    PersonSpec(
        "teacher@demo.jigsaw.test",
        "Tom Whitfield",
        "Designated safeguarding lead",
        "schools",
        "school",
        Role.PRACTITIONER,
    ),
)

STAFF: tuple[StaffSpec, ...] = (
    StaffSpec("Team manager", "cs", "social", 1, "protection", True),
    StaffSpec("Social worker", "cs", "social", 3, "assessment"),
    StaffSpec("Social worker", "cs", "social", 4, "protection"),
    StaffSpec("Named nurse for safeguarding", "community", "health", 1, "hv_east", True),
    StaffSpec("Health visitor", "community", "health", 3, "hv_east"),
    StaffSpec("School nurse", "community", "health", 3),
    StaffSpec("Community midwife", "community", "health", 2),
    StaffSpec("GP", "gp", "gp", 3),
    StaffSpec("Designated safeguarding lead", "schools", "school", 4),
    StaffSpec("Detective sergeant, public protection unit", "police", "police", 1, "ppu", True),
    StaffSpec("PC, public protection unit", "police", "police", 4, "ppu"),
    StaffSpec("Early help manager", "harbour", "voluntary", 1, "early_help", True),
    StaffSpec("Family support worker", "harbour", "voluntary", 4, "early_help"),
    StaffSpec("Youth worker", "harbour", "voluntary", 1),
)

# The school each designated safeguarding lead covers, in the order they are created
# (teacher@ first), with the ages the school takes.
SCHOOLS: tuple[tuple[str, int, int], ...] = (
    ("Millbrook Primary School", 4, 11),
    ("Little Acorns Nursery", 2, 4),
    ("St Anne's CofE Primary", 4, 11),
    ("Northgate Academy", 11, 17),
    ("Riverside High School", 11, 17),
)

GP_SURGERIES: tuple[str, ...] = (
    "Castle Street Surgery",
    "Vale Road Medical Centre",
    "Northgate Family Practice",
)

# The area a family lives in, known from the surgery it is registered with (fictional).
AREA_OF_SURGERY: dict[str, str] = {
    "Castle Street Surgery": "Castlefields",
    "Vale Road Medical Centre": "Vale Park",
    "Northgate Family Practice": "Northgate",
}

WOMEN: tuple[str, ...] = _words(
    """
    Aisha Chloe Emma Farah Hannah Jess Laura Nadia Rachel Tanya Vicky Wendy Zoe Claire
    Fiona Grace Joanne Karen Michelle Paula Stacey Kelly Amy Leanne Shannon Jade
    """
)
MEN: tuple[str, ...] = _words(
    """
    Ben Daniel Gareth Imran Kieran Marcus Owen Sean Usman Yusuf Declan Lee Nathan Ryan
    Wayne Dean Craig Jamie Liam Tariq Darren Kyle
    """
)
ADULT_FIRST: tuple[str, ...] = WOMEN + MEN

SURNAMES: tuple[str, ...] = _words(
    """
    Ahmed Bennett Clarke Davies Evans Fletcher Green Hughes Iqbal Jones Kowalski Lewis
    Mahmood Nowak O'Brien Patel Quinn Roberts Shaw Turner Walsh Wright Young Hartley
    Begum Campbell Doherty Ellis Foster Gill Harris Kaur Lloyd Murphy Osei Price Reid
    Singh Thompson Ward
    """
)

CHILD_FIRST: tuple[str, ...] = _words(
    """
    Amelia Alfie Ava Bella Charlie Daisy Ellie-Mae Freddie Grace Harry Isla Jayden Kai
    Lacey Leo Lily Mason Maya Mohammed Noah Olivia Oscar Poppy Riley Ruby Sophie Tyler
    Zara Aaliyah Archie Bailey Caleb Esme Frankie Harley Ibrahim Jacob Kacey Logan Millie
    Nevaeh Reggie Sienna Theo Willow Zain Aleksander Hania Kofi Amara
    """
)

DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
TIMES: tuple[str, ...] = ("9.30", "10am", "11.15", "1pm", "2.30", "3.45", "4pm")
APPOINTMENTS: tuple[str, ...] = (
    "the dentist",
    "CAMHS",
    "the paediatrician",
    "speech and language",
    "the eye clinic",
    "the asthma nurse",
    "the 2-year review",
    "the housing office",
)

TAILS: tuple[str, ...] = (
    " Will update after {day}.",
    " Lead professional aware.",
    " Discussed at supervision.",
    " Will keep an eye on it.",
    " Happy to talk it through if anyone wants to call.",
    " Nothing further for now.",
)

# Relative frequency of each kind, in PostKind order: update, hunch, concern, visit, positive.
KIND_WEIGHTS: dict[str, tuple[int, ...]] = {
    "social": (35, 8, 12, 30, 15),
    "health": (30, 8, 10, 37, 15),
    "gp": (50, 12, 18, 15, 5),
    "school": (35, 12, 15, 8, 30),
    "police": (55, 10, 25, 8, 2),
    "voluntary": (25, 8, 5, 37, 25),
}

_P = PostKind
# Templates by voice, then kind. Voices: social, health, gp, school, police, voluntary.
TEMPLATES: dict[str, dict[PostKind, tuple[str, ...]]] = {
    "social": {
        _P.UPDATE: (
            "Strategy discussion held today; single-agency section 47 enquiries to continue.",
            "Core group moved to {day} {time}. {mum} has confirmed she can attend.",
            "Child in need plan reviewed. {mum} agreed to the parenting course referral.",
            "Spoke to {mum} by phone; {partner} has moved out as agreed. Will verify at visit.",
            "Housing have confirmed the move date. {child} and {sibling} to stay at {school}.",
        ),
        _P.VISIT: (
            "Unannounced home visit. House warm, food in. {child} happy to show me their room.",
            "Saw {child} alone at {school}. Talked about home; said things are 'calmer now'.",
            "Home visit with {mum}. {partner} present for part of it, quiet but polite.",
            "Visit at {time}: {child} and {sibling} in, {mum} tired but engaged.",
        ),
        _P.CONCERN: (
            "{mum} cancelled the visit again, third time this month. Going out on {day}.",
            "Neighbour called the duty line about shouting at the address last night.",
            "{child} said {partner} 'still comes round at night'. Contrary to the safety plan.",
            "Missed {appt} twice now. Chasing {mum}; no answer on her phone.",
        ),
        _P.HUNCH: (
            "Something felt off at the visit. {mum} kept checking her phone and rushed me out.",
            "Not sure {partner} has really moved out, men's boots by the door again.",
            "{child} very quiet today, not like them. Might be nothing.",
        ),
        _P.POSITIVE: (
            "{mum} has finished the parenting course and was proud to show me the certificate.",
            "Lovely visit. {child} showed me a drawing from {school}, home calm and tidy.",
            "{mum} attended every appointment this month. Real progress.",
        ),
    },
    "health": {
        _P.UPDATE: (
            "{child} weighed at clinic: back on their centile. Next check in four weeks.",
            "Immunisations now up to date. {mum} asked about support with sleep.",
            "Referred to {appt}; {mum} aware and agreed.",
            "Handover received from midwifery. New birth visit booked for {day}.",
        ),
        _P.VISIT: (
            "Home visit. {child} alert and responsive, good interaction with {mum}.",
            "Drop-in at {school}. {child} came to see me about headaches, plan agreed.",
            "Visit at {time}. Home cluttered but safe sleeping space in place for {child}.",
            "Saw {mum} and {child} at clinic. {partner} waited in the car.",
        ),
        _P.CONCERN: (
            "Bruise to {child}'s upper arm at clinic. {mum}'s explanation vague. Lead informed.",
            "{child} has lost weight since last check and {mum} missed the follow-up.",
            "{mum} disclosed low mood and says she isn't sleeping. GP informed.",
            "Nappy rash untreated and {child} in the same clothes as last visit.",
        ),
        _P.HUNCH: (
            "{mum} seemed frightened when {partner} came in. Could not speak with her alone.",
            "Story about {child}'s fall changed between the front door and the kitchen.",
            "{child} flinched when I went to weigh them. Might just be shy.",
        ),
        _P.POSITIVE: (
            "{child} walking now! {mum} delighted, lots of praise and play observed.",
            "Breastfeeding going well and {mum} much more confident.",
            "{mum} has joined the baby group at the children's centre.",
        ),
    },
    "gp": {
        _P.UPDATE: (
            "Seen in surgery with {mum}: chest infection, antibiotics prescribed.",
            "{mum} registered {child} and {sibling} at {gp}.",
            "Referral to {appt} sent. Letter copied to lead professional.",
        ),
        _P.VISIT: (
            "Appointment at {gp}. {child} well, growth normal. No concerns today.",
            "Telephone consultation with {mum} about {child}'s eczema.",
        ),
        _P.CONCERN: (
            "Third A&E attendance in two months for {child}. Flagged to the safeguarding lead.",
            "{mum} requesting early repeat of diazepam. Declined; discussed support.",
            "{child} not brought to three appointments at {gp}. Was-not-brought letter sent.",
        ),
        _P.HUNCH: (
            "{mum} asked odd questions about bruising in children. Might mean nothing.",
            "{partner} did all the talking; {mum} looked at him before every answer.",
        ),
        _P.POSITIVE: (
            "{mum} engaging with talking therapies, says she feels better.",
            "{child}'s asthma much better controlled; inhaler technique good.",
        ),
    },
    "school": {
        _P.UPDATE: (
            "Attendance this half term 86%. Letter home and meeting booked for {day}.",
            "{child} has a new key adult in school, starting {day}.",
            "{child} has been referred to the school counsellor; {mum} consented.",
            "Parents' evening: {mum} attended, {partner} did not.",
        ),
        _P.VISIT: (
            "Home visit with the attendance officer. {mum} answered; says {child} has been ill.",
            "Met {mum} at the school gate. Chatty, said the move is going ahead.",
        ),
        _P.CONCERN: (
            "{child} arrived hungry again, asked staff for breakfast. Logged on our system.",
            "{child} told their teacher that {partner} 'shouts and throws things'.",
            "Late collection again: {mum} arrived at 4.40 and seemed under the influence.",
            "{child} absent {day} and {sibling} said they had 'to look after mum'.",
        ),
        _P.HUNCH: (
            "{child} withdrawn this week and didn't want to go home at 3.15.",
            "{child} drawing a lot of dark pictures lately. Class teacher uneasy.",
            "{sibling} mentioned a new 'uncle' staying over. Might be nothing.",
        ),
        _P.POSITIVE: (
            "{child} got star of the week for reading! Beaming all afternoon.",
            "{child} joined football club and is making friends.",
            "Attendance up to 97% this half term. Well done {child}.",
        ),
    },
    "police": {
        _P.UPDATE: (
            "Domestic incident logged at the address overnight; no arrests. Risk assessed medium.",
            "{partner} bailed with conditions not to attend the address.",
            "MARAC referral made for {mum}; listed for {day}.",
            "Welfare check completed at {time}; all occupants seen and safe.",
        ),
        _P.VISIT: (
            "Attended with a colleague. {child} and {sibling} asleep, {mum} calm.",
            "Joint visit with children's services. {mum} provided a statement.",
        ),
        _P.CONCERN: (
            "{partner} arrested for breach of bail conditions at the address.",
            "{child} reported missing at 9pm, found at 11pm at a friend's. Return interview due.",
            "Intelligence suggests {child} is associating with older males in the town centre.",
            "999 call from the address, line went dead. Officers attended, {mum} denied.",
        ),
        _P.HUNCH: (
            "Car seen outside the address late at night several times. Linked to {partner}?",
            "{child} had a new phone and cash on them. Asked questions, gave vague answers.",
        ),
        _P.POSITIVE: ("{mum} has engaged with the IDVA and feels safer at home.",),
    },
    "voluntary": {
        _P.UPDATE: (
            "Food bank voucher given and help with the uniform grant application.",
            "Session plan agreed with {mum}: routines, bedtimes and the school run.",
            "{mum} booked onto the Freedom Programme starting {day}.",
        ),
        _P.VISIT: (
            "Home session. Worked on the bedtime routine chart with {child} and {sibling}.",
            "Took {mum} to {appt}; she was nervous but managed it.",
            "Group session at the family hub. {child} played well with the others.",
            "Drop-in at {time}. {mum} upbeat, house tidier than last week.",
        ),
        _P.CONCERN: (
            "{mum} said the gas has been off since {day}. Emergency top-up arranged.",
            "{child} said they're scared when {partner} has been drinking.",
        ),
        _P.HUNCH: (
            "{mum} mentioned a 'friend' helping out with money. Something about it worried me.",
            "{child} clingy and tearful at the end of the session. Not like them.",
        ),
        _P.POSITIVE: (
            "{mum} did the school run every day this week, first time in months.",
            "{child} proudly showed me their reading record, signed every night.",
            "Family went to the park together at the weekend. {mum} sent me a photo.",
        ),
    },
}

# A burst: several agencies noticing something at once.
BURST: dict[str, tuple[str, ...]] = {
    "social": (
        "Duty call from {school} about {child}. Going out today.",
        "Could not gain entry at {time}, curtains closed, {mum} not answering.",
        "Strategy discussion requested for {child} after today's information.",
    ),
    "health": (
        "{child} brought to the walk-in centre with a burn to the hand. Explanation inconsistent.",
        "{mum} missed today's appointment and is not answering. Worried.",
        "Marks on {child}'s neck seen at clinic. Body map completed, lead informed.",
    ),
    "gp": (
        "{mum} seen in surgery with a black eye; said she walked into a door.",
        "A&E discharge letter for {child} received this morning, second this week.",
    ),
    "school": (
        "{child} not in school today or yesterday, no call from home.",
        "{child} came in with a mark under the eye and wouldn't say how.",
        "{sibling} told a TA that {partner} is 'back living with us'.",
    ),
    "police": (
        "Two calls from the address since the weekend. {partner} seen leaving.",
        "{child} reported missing overnight, returned this morning. Return interview booked.",
    ),
    "voluntary": (
        "Session cancelled by text, third this week. {mum} sounded scared on the phone.",
        "{child} asked me if they could 'come and live at the hub'.",
    ),
}


def agency(key: str) -> AgencySpec:
    return next(a for a in AGENCIES if a.key == key)


def team_name(key: str | None) -> str:
    return next(t.name for t in TEAMS if t.key == key)


def staff_email(name: str, agency_key: str) -> str:
    """firstname.lastname@<agency-domain>.demo.jigsaw.test"""
    local = name.lower().replace("'", "").replace(" ", ".")
    return f"{local}@{agency(agency_key).domain}.demo.jigsaw.test"


def work_email(name: str, agency_key: str) -> str:
    """firstname.lastname@<agency-domain>.example.org: how colleagues reach them."""
    local = name.lower().replace("'", "").replace(" ", ".")
    return f"{local}@{agency(agency_key).domain}.example.org"


def schools_for(age: int) -> list[str]:
    """The schools in SCHOOLS that take a child of this age (the children's centre if none)."""
    names = [name for name, youngest, oldest in SCHOOLS if youngest <= age <= oldest]
    return names or ["the children's centre"]


def roster(rng: random.Random) -> list[PersonSpec]:
    """The fixed logins, then STAFF with generated unique names."""
    people, used = list(LOGINS), {p.name for p in LOGINS}
    for spec in STAFF:
        role = Role.MANAGER if spec.is_manager else Role.PRACTITIONER
        for _ in range(spec.headcount):
            name = _unique_name(rng, used)
            email = staff_email(name, spec.agency)
            job = (spec.job_title, spec.agency, spec.voice, role, spec.team, spec.is_manager)
            people.append(PersonSpec(email, name, *job))
    return people


def _unique_name(rng: random.Random, used: set[str]) -> str:
    while (name := f"{rng.choice(ADULT_FIRST)} {rng.choice(SURNAMES)}") in used:
        pass
    used.add(name)
    return name


def manager_of(people: list[PersonSpec], team: str | None) -> str | None:
    managers = [p.email for p in people if team and p.team == team and p.is_manager]
    return managers[0] if managers else None


def dsl_for(people: list[PersonSpec], school: str) -> str | None:
    """Designated safeguarding leads cover the schools in SCHOOLS, in order."""
    leads = [p.email for p in people if p.job_title == "Designated safeguarding lead"]
    names = [name for name, _, _ in SCHOOLS]
    return leads[names.index(school)] if school in names else None

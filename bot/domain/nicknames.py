"""Given-name equivalence: nicknames and spellings of one name (Bob/Robert, Liz/Elizabeth, Sasha/Alexander).

Each group lists a formal name first, then the short forms and spellings people go by. Names are written
folded (lower case, ASCII: accents are folded before lookup), so "Zoë" and "José" need no entry. A short form
may belong to several groups ("Alex": Alexander, Alexandra, Alexis); two names are equivalent when they share
a group. The table is deliberately conservative: a pair like Jack/John is here because recruiters meet it
every week, while names that are merely related across languages (Miguel/Michael) are left to spelling
similarity.
"""

from __future__ import annotations

from typing import Final

_GROUPS: Final[tuple[str, ...]] = (
    # English
    "abigail abby abbie abi gail",
    "abraham abe avi avraham",
    "albert al bert bertie",
    "alexander alex alec sasha xander lex sandy aleksandr aleksander alexandr alexandre",
    "alexandra alex alexa lexi sasha sandra sandy aleksandra",
    "alexis alex lexi",
    "alfred alf alfie fred",
    "allison ally allie alison",
    "amanda mandy manda",
    "andrew andy drew",
    "anne ann anna annie anja anya nancy",
    "anthony tony antony ant",
    "arthur art artie",
    "barbara barb barbie babs",
    "benedict ben",
    "benjamin ben benny benji",
    "bradley brad",
    "brian bryan bri",
    "caroline carol carrie caro carolina karolina carolyn",
    "charles charlie chuck chas chaz",
    "charlotte charlie lottie lotte carlotta",
    "christian chris kristian christiaan krystian",
    "christine chris tina chrissy christina kristina kristine christiane kirsten",
    "christopher chris kit topher kris christoph cristopher",
    "cynthia cindy",
    "daniel dan danny dani",
    "danielle dani elle",
    "david dave davy davey",
    "deborah deb debbie debra debby",
    "donald don donny",
    "dorothy dot dottie dolly",
    "douglas doug",
    "edward ed eddie eddy ted teddy ned",
    "eleanor ellie nell nora elle eleonora leonor",
    "elizabeth liz lizzie lizzy beth betty betsy bette eliza libby elsie lisbeth",
    "emily em emmy emilie",
    "eugene gene",
    "ezekiel zeke",
    "frances fran frannie",
    "francesca fran frankie",
    "francis frank frankie fran",
    "franklin frank",
    "frederick fred freddie freddy fritz friedrich frederik fredrik",
    "gabriel gabe gabi",
    "gabrielle gabby gabi gabriela gabriella",
    "gerald gerry jerry",
    "gregory greg gregor",
    "harold harry hal",
    "helen nell nellie lena helena elena ellie",
    "henry hank harry hal henri heinrich heinz hendrik henk",
    "isaac ike",
    "isabel bella izzy isabella isabelle izzie belle isa",
    "jacob jake jakob",
    "jacqueline jackie jacqui",
    "james jim jimmy jamie",
    "jeffrey jeff geoff geoffrey jeffery",
    "jennifer jen jenny jenn jenni",
    "jeremy jerry",
    "jessica jess jessie",
    "john johnny jack jon",
    "jonathan jon jonny jonathon johnathan",
    "joseph joe joey jo josef sepp",
    "josephine jo josie",
    "joshua josh",
    "judith judy jude",
    "katherine kate katie katy kathy kat kathryn katharine catherine cathy cate katharina katarina "
    "catharina caterina cathryn kathrin katrin ekaterina yekaterina katya katia",
    "kathleen kathy kath",
    "kenneth ken kenny",
    "kimberly kim kimmie",
    "lawrence larry laurence",
    "leonard leo len lenny",
    "louis lou",
    "louise lou lulu luisa",
    "luke lucas lukas",
    "madeline maddie maddy madeleine madelyn",
    "margaret maggie meg peggy marge margie greta gretchen margarete margarethe marguerite margot",
    "mark marc marcus markus",
    "mary molly polly mae",
    "matthew matt matty mat mathew",
    "maximilian max maxi maximillian",
    "maxwell max",
    "melanie mel",
    "melissa mel missy lissa",
    "michael mike mikey mick mickey micky",
    "miriam mimi miri",
    "nathaniel nate nat nathan",
    "nicholas nick nicky nico nicolas niklas nikolaus nikolai",
    "nicole nikki nicky nic nicola nicolette",
    "olivia liv livvy olive",
    "pamela pam",
    "patricia pat patty patti trish tricia",
    "patrick pat paddy",
    "peter pete pieter piotr",
    "philip phil phillip filip philipp pip",
    "raymond ray",
    "rebecca becky becca bex",
    "richard rich rick ricky dick richie",
    "robert rob bob bobby robbie robby bert",
    "ronald ron ronnie",
    "samantha sam sammie sammy",
    "samuel sam sammy",
    "sean shawn shaun",
    "sebastian seb bastian basti",
    "sophia sophie sofia sofie soph zofia zosia",
    "stephanie steph steffi stefanie",
    "stephen steven steve stevie stefan stephan",
    "stuart stewart stu",
    "susan sue susie suzy susanne susanna suzanne suzanna",
    "teresa theresa terry tess tessa terri",
    "theodore theo ted teddy",
    "thomas tom tommy thom tomas tomasz",
    "timothy tim timmy",
    "valerie val",
    "veronica ronnie vero",
    "victoria vicky vicki tori viktoria",
    "vincent vince vinny vin",
    "virginia ginny ginger",
    "walter walt wally",
    "william will bill billy willy willie liam wil",
    "zachary zach zack zak",
    # German, Dutch, Nordic
    "cornelis kees",
    "erik eric erich",
    "carl karl",
    "joachim achim",
    "johannes hans johann hannes jan",
    "lars lasse",
    "willem wim",
    "wolfgang wolf",
    # Spanish, Portuguese, Italian
    "antonio toni tony",
    "enrique quique",
    "francesco franco",
    "giuseppe beppe peppe pino",
    "ignacio nacho",
    "jose pepe",
    "manuel manny manolo",
    # Slavic (Latin transliterations)
    "aleksei alexei alexey alyosha",
    "anastasia nastya",
    "dmitri dima dmitry dmitriy dimitri",
    "evgeny zhenya yevgeny evgeni evgenii evgeniy yevgeniy",
    "ivan vanya",
    "mikhail misha",
    "natalia natasha natalya nataliya natalie nathalie",
    "olga olya",
    "sergei sergey serge sergiy serhiy",
    "tatiana tanya tatyana tatjana",
    "yuri yury yuriy iurii",
    # Arabic, South Asian (Latin transliterations)
    "ahmed ahmad",
    "mohammed muhammad mohamed mohammad muhammed mohamad",
    "srinivas srini",
    "venkatesh venkat",
    "yusuf yousef youssef",
)


def _index() -> dict[str, tuple[int, ...]]:
    groups: dict[str, list[int]] = {}
    for number, line in enumerate(_GROUPS):
        for name in line.split():
            groups.setdefault(name, [])
            if number not in groups[name]:
                groups[name].append(number)
    # a formal name's own group comes first: it is the name's canonical form
    return {name: tuple(sorted(ids, key=lambda i: _GROUPS[i].split()[0] != name)) for name, ids in groups.items()}


_BY_NAME: Final = _index()
_CANONICAL: Final = tuple(line.split()[0] for line in _GROUPS)


def name_groups(folded: str) -> frozenset[int]:
    """Return the groups a folded given name belongs to (empty when the table does not know it)."""
    return frozenset(_BY_NAME.get(folded, ()))


def canonical_given_name(folded: str) -> str:
    """Return the formal name of the name's first group ("bob" -> "robert"), or the name itself."""
    ids = _BY_NAME.get(folded)
    return _CANONICAL[ids[0]] if ids else folded


def same_given_name(a: str, b: str) -> bool:
    """Tell whether two folded given names are equal or nicknames/spellings of one name."""
    if a == b:
        return True
    first, second = _BY_NAME.get(a), _BY_NAME.get(b)
    return bool(first and second and not set(first).isdisjoint(second))


def group_names(groups: frozenset[int]) -> tuple[str, ...]:
    """Every name in the given groups (formal names and short forms), in table order."""
    return tuple(dict.fromkeys(name for number in sorted(groups) for name in _GROUPS[number].split()))

"""The source of the built-in suites: our own vocabulary, turned into the JSON files we ship.

The JSON under ``interp/suites/builtin/`` is generated from this module, so that the vocabulary
is written once; a test checks that the files match it. Regenerate after editing::

    python -m interp.suites.builtin_source

``templates/*.json`` are CausalGym task templates (format B), one file per phenomenon family;
``syntaxgym/*.json`` are SyntaxGym suites (format A) built from the same words.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

BUILTIN_DIR = Path(__file__).with_name("builtin")

# ------------------------------------------------------------------------------ vocabulary
PEOPLE = [
    "author", "teacher", "doctor", "lawyer", "farmer", "pilot", "senator", "manager", "student", "painter",
    "dancer", "singer", "officer", "guard", "nurse", "editor", "banker", "athlete", "surgeon", "customer",
    "minister", "driver", "reporter", "scientist", "soldier", "waiter", "writer", "actor", "baker", "judge",
    "boxer", "clerk", "coach", "chef", "architect", "tourist", "neighbor", "mechanic", "poet", "sailor",
]
THINGS = [
    "car", "house", "table", "door", "window", "school", "bridge", "tower", "river", "garden", "park",
    "station", "library", "market", "church", "hotel", "office", "museum", "fountain", "statue", "shop",
    "cabinet", "bench", "fence", "gate", "hospital",
]
PREPS = ["near", "behind", "beside", "next to", "in front of", "across from", "close to", "far from", "by"]
RC_VERBS = [
    "liked", "hated", "admired", "met", "saw", "helped", "thanked", "called", "visited", "praised", "blamed",
    "trusted", "feared", "followed", "hired", "pushed", "hurt", "watched", "loved", "avoided", "ignored",
    "criticized", "greeted", "remembered",
]
REFLEXIVE_VERBS = ["hurt", "saw", "praised", "blamed", "trusted", "helped", "liked", "hated", "admired",
                   "criticized", "defended", "introduced", "doubted", "described"]
MALE_NAMES = ["John", "David", "Michael", "James", "Robert", "William", "Thomas", "Daniel", "Paul", "Mark",
              "George", "Peter", "Kevin", "Brian", "Steven", "Edward", "Jason", "Frank", "Henry", "Jack",
              "Samuel", "Oliver", "Victor", "Arthur", "Walter"]
FEMALE_NAMES = ["Mary", "Sarah", "Linda", "Emma", "Susan", "Karen", "Nancy", "Lisa", "Anna", "Laura",
                "Emily", "Alice", "Julia", "Rachel", "Helen", "Grace", "Sophie", "Diana", "Claire", "Kate",
                "Lucy", "Olivia", "Rose", "Megan", "Jessica"]
GENDER_VERBS = ["visited", "cleaned", "painted", "left", "opened", "locked", "sold", "bought", "closed",
                "repaired", "found", "entered"]
CONJUNCTIONS = ["because", "so", "but", "and", "although", "since", "after", "until"]
NPI_VERBS = ["bought", "found", "saw", "needed", "wanted", "had", "received", "read", "wrote", "ate",
             "brought", "made"]
DITRANSITIVE_PARTICIPLES = ["brought", "sent", "handed", "told", "offered", "taught", "paid", "fed", "lent",
                            "read", "shown", "given", "promised", "mailed"]
MESSAGES = ["letter", "book", "note", "gift", "package", "message", "story", "map", "ticket", "photo",
            "card", "report"]
PLACES = ["office", "kitchen", "station", "hotel", "market", "library", "garden", "school", "hospital",
          "museum", "church", "bank"]
OPTIONAL_TRANSITIVES = ["hunted", "visited", "watched", "called", "studied", "washed", "attacked",
                        "followed", "cleaned", "painted", "helped", "fed", "scratched", "chased"]
INTRANSITIVES = ["slept", "laughed", "arrived", "sneezed", "smiled", "danced", "waited", "fainted", "cried",
                 "yawned", "shouted", "collapsed", "paused", "frowned"]
ANIMATE_OBJECTS = ["deer", "dog", "cat", "horse", "child", "baby", "bird", "rabbit", "goat", "puppy",
                   "kitten", "boy", "girl", "pony", "lamb"]
SUBORDINATORS = ["While", "After", "Because", "Although", "When", "Before", "Since", "Once", "Whenever", "If"]
MAIN_OPENERS = ["Yesterday", "Today", "Then", "Finally", "Suddenly", "Later", "Recently", "Again",
                "Eventually", "Luckily"]
OBJECT_VERBS = ["questioned", "visited", "met", "called", "praised", "helped", "thanked", "hired", "greeted",
                "interviewed", "warned", "invited", "described", "noticed"]
KNOW_VERBS = ["knew", "forgot", "remembered", "noticed", "learned", "heard", "discovered", "realized",
              "explained", "revealed"]
SAY_VERBS = ["said", "thought", "believed", "claimed", "suspected", "assumed", "guessed", "felt"]
GIVE_VERBS = ["gave", "sent", "showed", "sold", "lent", "handed", "mailed", "offered", "passed", "threw"]


def plural(noun: str) -> str:
    if noun.endswith(("ch", "sh", "s", "x")):
        return noun + "es"
    if noun == "child":
        return "children"
    return noun + "s"


def _number_noun(nouns: list[str]) -> dict[str, list[str]]:
    return {"singular": list(nouns), "plural": [plural(n) for n in nouns]}


def _mixed(nouns: list[str]) -> list[str]:
    return [form for n in nouns for form in (n, plural(n))]


AGREE_LABELS = {"singular": ["is", "was", "has"], "plural": ["are", "were", "have"]}
REFLEXIVE_LABELS = {"singular": ["himself", "herself"], "plural": ["themselves"]}
GAP_LABELS = {"gap": [".", " yesterday"], "nogap": [" the", " a"]}


# ------------------------------------------------------------------------------ template tasks
def agreement() -> dict:
    subject = _number_noun(PEOPLE)
    tasks = {
        "agr_sv_num_pp": (["The {subject} {prep} the {object}"], {"prep": PREPS, "object": _mixed(THINGS)}),
        "agr_sv_num_subj-relc": (["The {subject} that {rc_verb} the {object}"],
                                 {"rc_verb": RC_VERBS, "object": _mixed(PEOPLE)}),
        "agr_sv_num_obj-relc": (["The {subject} that the {object} {rc_verb}"],
                                {"rc_verb": RC_VERBS, "object": _mixed(PEOPLE)}),
    }
    out = {
        name: {"templates": templates, "label": "subject", "result_prepend_space": True, "labels": AGREE_LABELS,
               "variables": {"subject": subject, **variables}}
        for name, (templates, variables) in tasks.items()
    }
    reflexive = {
        "agr_refl_num_pp": ["The {subject} {prep} the {object} {verb}"],
        "agr_refl_num_subj-relc": ["The {subject} that {rc_verb} the {object} {verb}"],
        "agr_refl_num_obj-relc": ["The {subject} that the {object} {rc_verb} {verb}"],
    }
    for name, templates in reflexive.items():
        objects = _mixed(THINGS) if name.endswith("pp") else _mixed(PEOPLE)
        variables = {"subject": subject, "object": objects, "verb": REFLEXIVE_VERBS}
        variables.update({"prep": PREPS} if name.endswith("pp") else {"rc_verb": RC_VERBS})
        out[name] = {"templates": templates, "label": "subject", "result_prepend_space": True,
                     "labels": REFLEXIVE_LABELS, "variables": variables}
    out["agr_gender"] = {
        "templates": ["{name} {verb} the {object} {conj}"], "label": "name", "result_prepend_space": True,
        "labels": {"male": ["he"], "female": ["she"]},
        "variables": {"name": {"male": MALE_NAMES, "female": FEMALE_NAMES}, "verb": GENDER_VERBS,
                      "object": THINGS, "conj": CONJUNCTIONS},
    }
    return out


def npi() -> dict:
    det = {"negative": ["No"], "positive": ["The"]}
    shapes = {
        "subj-relc": "{det} {subject} that {rc_verb} {rc_det} {object}",
        "obj-relc": "{det} {subject} that {rc_det} {object} {rc_verb}",
    }
    out = {}
    for shape, clause in shapes.items():
        variables = {"det": det, "subject": PEOPLE, "rc_verb": RC_VERBS, "rc_det": ["the", "no"],
                     "object": _mixed(PEOPLE)}
        out[f"npi_any_{shape}"] = {
            "templates": [clause + " {verb}"], "label": "det", "result_prepend_space": True,
            "labels": {"negative": ["any"], "positive": ["some"]}, "variables": {**variables, "verb": NPI_VERBS},
        }
        out[f"npi_ever_{shape}"] = {
            "templates": [clause + " {aux}"], "label": "det", "result_prepend_space": True,
            "labels": {"negative": ["ever"], "positive": ["always", "already"]},
            "variables": {**variables, "aux": ["has", "had"]},
        }
    return out


def garden_path() -> dict:
    return {
        "garden_mvrr": {
            "templates": ["The {subject} {rel} {verb} the {message} from the {place}"], "label": "rel",
            "result_prepend_space": True,
            "labels": {"relative": ["was", "felt", "seemed"], "main": ["and", "to"]},
            "variables": {"subject": PEOPLE, "rel": {"relative": ["who was"], "main": [""]},
                          "verb": DITRANSITIVE_PARTICIPLES[:10], "message": MESSAGES, "place": PLACES},
        },
        "garden_npz_obj": {
            "templates": ["While the {subject} {verb}{comma} the {object}"], "label": "comma",
            "result_prepend_space": False,
            "labels": {"comma": [" was", " ran"], "nocomma": [","]},
            "variables": {"subject": PEOPLE, "verb": OPTIONAL_TRANSITIVES,
                          "comma": {"comma": [","], "nocomma": [""]}, "object": ANIMATE_OBJECTS},
        },
        "garden_npz_v-trans": {
            "templates": ["While the {subject} {verb} the {object}"], "label": "verb",
            "result_prepend_space": False,
            "labels": {"transitive": [","], "intransitive": [" was", " ran"]},
            "variables": {"subject": PEOPLE,
                          "verb": {"transitive": OPTIONAL_TRANSITIVES, "intransitive": INTRANSITIVES},
                          "object": ANIMATE_OBJECTS},
        },
    }


def subordination() -> dict:
    sub = {"subordinate": SUBORDINATORS, "main": MAIN_OPENERS}
    shapes = {
        "gss_subord": "{sub} the {subject} {verb} the {object}",
        "gss_subord_pp": "{sub} the {subject} {prep} the {thing} {verb} the {object}",
        "gss_subord_subj-relc": "{sub} the {subject} that {rc_verb} the {other} {verb} the {object}",
        "gss_subord_obj-relc": "{sub} the {subject} that the {other} {rc_verb} {verb} the {object}",
    }
    out = {}
    for name, template in shapes.items():
        variables = {"sub": sub, "subject": PEOPLE, "verb": OBJECT_VERBS, "object": _mixed(PEOPLE)}
        if "{prep}" in template:
            variables.update(prep=PREPS, thing=THINGS)
        if "{rc_verb}" in template:
            variables.update(rc_verb=RC_VERBS, other=_mixed(PEOPLE))
        out[name] = {"templates": [template], "label": "sub", "result_prepend_space": False,
                     "labels": {"subordinate": [","], "main": ["."]}, "variables": variables}
    return out


def cleft() -> dict:
    wh = {"cleft": ["What"], "plain": MAIN_OPENERS}
    labels = {"cleft": ["was", "is"], "plain": ["the", "a"]}
    return {
        "cleft": {"templates": ["{wh} the {subject} {verb}"], "label": "wh", "result_prepend_space": True,
                  "labels": labels,
                  "variables": {"wh": wh, "subject": _mixed(PEOPLE), "verb": OBJECT_VERBS}},
        "cleft_modifier": {"templates": ["{wh} the {subject} {prep} the {thing} {verb}"], "label": "wh",
                           "result_prepend_space": True, "labels": labels,
                           "variables": {"wh": wh, "subject": PEOPLE, "prep": PREPS, "thing": THINGS,
                                         "verb": OBJECT_VERBS}},
    }


def filler_gap() -> dict:
    comp = {"gap": ["who", "what"], "nogap": ["that"]}
    base = {"subject": PEOPLE, "know": KNOW_VERBS, "comp": comp, "other": _mixed(PEOPLE)}
    shapes = {
        "filler_gap_obj": ("The {subject} {know} {comp} the {other} {verb}", {"verb": RC_VERBS}, GAP_LABELS),
        "filler_gap_pp": ("The {subject} {know} {comp} the {other} {give} the {message} to",
                          {"give": GIVE_VERBS, "message": MESSAGES}, GAP_LABELS),
        "filler_gap_subj": ("The {subject} {know} {comp} the {other} {say}", {"say": SAY_VERBS},
                            {"gap": [" was", " had"], "nogap": [" the", " that"]}),
        "filler_gap_embed": ("The {subject} {know} {comp} the {other} {say} that the {third} {verb}",
                             {"say": SAY_VERBS, "third": _mixed(PEOPLE), "verb": RC_VERBS}, GAP_LABELS),
        "filler_gap_hierarchy": ("The {subject} {know} {comp} the {other} that {rc_verb} the {third} {verb}",
                                 {"rc_verb": RC_VERBS, "third": _mixed(PEOPLE), "verb": OBJECT_VERBS},
                                 GAP_LABELS),
    }
    return {
        name: {"templates": [template], "label": "comp", "result_prepend_space": False, "labels": labels,
               "variables": {**base, **extra}}
        for name, (template, extra, labels) in shapes.items()
    }


TEMPLATE_FILES = {
    "agreement": agreement, "npi": npi, "garden_path": garden_path, "subordination": subordination,
    "cleft": cleft, "filler_gap": filler_gap,
}


# ------------------------------------------------------------------------------ SyntaxGym suites
SV_VERBS = [("is", "are", "very happy ."), ("was", "were", "here yesterday ."), ("has", "have", "a big house ."),
            ("knows", "know", "many people ."), ("likes", "like", "the music ."), ("sees", "see", "the lake ."),
            ("needs", "need", "more time ."), ("wants", "want", "a new car .")]
N_ITEMS = 40


def _suite(name: str, region_names: list[str], predictions: list[str], items: list[dict[str, list[str]]],
           reference: str) -> dict:
    return {
        "meta": {"name": name, "metric": "sum", "reference": reference},
        "region_meta": {str(i + 1): r for i, r in enumerate(region_names)},
        "predictions": [{"type": "formula", "formula": f} for f in predictions],
        "items": [
            {"item_number": number + 1, "conditions": [
                {"condition_name": cond, "regions": [
                    {"region_number": i + 1, "content": content} for i, content in enumerate(contents)]}
                for cond, contents in conditions.items()]}
            for number, conditions in enumerate(items)
        ],
    }


def _agreement_suite(name: str, modifier: str, words: list[str], reference: str) -> dict:
    """Four conditions per item; ``modifier`` holds ``{w}`` (drawn from ``words``) and ``{n}`` (the attractor)."""
    rng = random.Random(f"syntaxgym:{name}")
    items = []
    for _ in range(N_ITEMS):
        subject, attractor = rng.sample(PEOPLE, 2)
        word = rng.choice(words)
        sing, plur, cont = rng.choice(SV_VERBS)
        plural_attractor = modifier.format(w=word, n=plural(attractor))
        singular_attractor = modifier.format(w=word, n=attractor)
        items.append({
            "match_sing": ["The", subject, plural_attractor, sing, cont],
            "mismatch_sing": ["The", subject, plural_attractor, plur, cont],
            "match_plural": ["The", plural(subject), singular_attractor, plur, cont],
            "mismatch_plural": ["The", plural(subject), singular_attractor, sing, cont],
        })
    predictions = ["(4;%mismatch_sing%) > (4;%match_sing%)", "(4;%mismatch_plural%) > (4;%match_plural%)"]
    return _suite(name, ["intro", "np_subj", "modifier", "verb", "continuation"], predictions, items, reference)


def syntaxgym_suites() -> dict[str, dict]:
    suites = {
        "number_pp": _agreement_suite(
            "number_pp", "{w} the {n}", PREPS,
            "subject-verb number agreement across a prepositional phrase (interp built-in)"),
        "number_src": _agreement_suite(
            "number_src", "that {w} the {n}", RC_VERBS,
            "subject-verb number agreement across a subject relative clause (interp built-in)"),
        "number_orc": _agreement_suite(
            "number_orc", "that the {n} {w}", RC_VERBS,
            "subject-verb number agreement across an object relative clause (interp built-in)"),
    }
    rng = random.Random("syntaxgym:reflexive_pp")
    items = []
    for _ in range(N_ITEMS):
        subject, attractor = rng.sample(PEOPLE, 2)
        prep, verb, refl = rng.choice(PREPS), rng.choice(REFLEXIVE_VERBS), rng.choice(["himself", "herself"])
        items.append({
            "match_sing": ["The", subject, f"{prep} the {plural(attractor)}", verb, refl, "."],
            "mismatch_sing": ["The", subject, f"{prep} the {plural(attractor)}", verb, "themselves", "."],
            "match_plural": ["The", plural(subject), f"{prep} the {attractor}", verb, "themselves", "."],
            "mismatch_plural": ["The", plural(subject), f"{prep} the {attractor}", verb, refl, "."],
        })
    suites["reflexive_pp"] = _suite(
        "reflexive_pp", ["intro", "np_subj", "modifier", "verb", "reflexive", "end"],
        ["(5;%mismatch_sing%) > (5;%match_sing%)", "(5;%mismatch_plural%) > (5;%match_plural%)"], items,
        "reflexive number agreement across a prepositional phrase (interp built-in)")

    rng = random.Random("syntaxgym:npi_ever")
    items = []
    for _ in range(N_ITEMS):
        subject, other = rng.choice(PEOPLE), plural(rng.choice(PEOPLE))
        verb, cont = rng.choice(RC_VERBS), rng.choice(["seen a ghost .", "been to Paris .", "told a lie ."])
        items.append({
            f"{m}_{d}": ["No" if m == "neg" else "The", subject,
                         f"that {verb} {'no' if d == 'neg' else 'the'} {other}", "has", "ever", cont]
            for m in ("neg", "pos") for d in ("pos", "neg")
        })
    suites["npi_ever"] = _suite(
        "npi_ever", ["matrix_det", "noun", "relative_clause", "aux", "npi", "continuation"],
        ["(5;%neg_pos%) < (5;%pos_pos%)", "(5;%neg_neg%) < (5;%pos_neg%)", "(5;%neg_pos%) < (5;%pos_neg%)"],
        items, "NPI 'ever' licensed by a c-commanding 'no', with a distractor 'no' in a relative clause "
               "(interp built-in)")

    rng = random.Random("syntaxgym:subordination")
    items = []
    for _ in range(N_ITEMS):
        sub, subject, verb, obj = (rng.choice(SUBORDINATORS), rng.choice(PEOPLE), rng.choice(OBJECT_VERBS),
                                   rng.choice(PEOPLE))
        other, intrans = rng.choice(PEOPLE), rng.choice(INTRANSITIVES)
        clause = f"the {subject} {verb} the {obj}"
        matrix = f", the {other} {intrans}"
        items.append({
            "sub_no-matrix": [sub, clause, "", "."],
            "no-sub_no-matrix": ["", clause[0].upper() + clause[1:], "", "."],
            "sub_matrix": [sub, clause, matrix, "."],
            "no-sub_matrix": ["", clause[0].upper() + clause[1:], matrix, "."],
        })
    suites["subordination"] = _suite(
        "subordination", ["subordinator", "clause", "matrix", "end"],
        ["(4;%sub_no-matrix%) > (4;%no-sub_no-matrix%)", "(3;%sub_matrix%) < (3;%no-sub_matrix%)"], items,
        "a subordinate clause predicts a main clause (interp built-in)")

    rng = random.Random("syntaxgym:npz_obj")
    items = []
    for _ in range(N_ITEMS):
        subject, verb, obj = rng.choice(PEOPLE), rng.choice(OPTIONAL_TRANSITIVES), rng.choice(ANIMATE_OBJECTS)
        start = f"While the {subject} {verb}"
        items.append({
            "no-comma": [start, "", f"the {obj}", "ran", "into the woods ."],
            "comma": [start, ",", f"the {obj}", "ran", "into the woods ."],
        })
    suites["npz_obj"] = _suite(
        "npz_obj", ["subordinate", "comma", "np", "verb", "continuation"],
        ["(4;%no-comma%) > (4;%comma%)"], items,
        "NP/Z garden path: without a comma the noun phrase is read as an object (interp built-in)")

    rng = random.Random("syntaxgym:filler_gap_obj")
    items = []
    for _ in range(N_ITEMS):
        subject, know, other, verb = (rng.choice(PEOPLE), rng.choice(KNOW_VERBS), rng.choice(PEOPLE),
                                      rng.choice(RC_VERBS))
        obj = f"the {rng.choice(ANIMATE_OBJECTS)}"
        intro, clause = f"The {subject} {know}", f"the {other} {verb}"
        items.append({
            "what_gap": [intro, "who", clause, "", "yesterday ."],
            "that_gap": [intro, "that", clause, "", "yesterday ."],
            "what_nogap": [intro, "who", clause, obj, "yesterday ."],
            "that_nogap": [intro, "that", clause, obj, "yesterday ."],
        })
    suites["filler_gap_obj"] = _suite(
        "filler_gap_obj", ["intro", "complementizer", "clause", "object", "continuation"],
        ["(5;%what_gap%) < (5;%that_gap%)", "(4;%what_nogap%) > (4;%that_nogap%)"], items,
        "a wh-filler predicts an object gap (interp built-in)")
    return suites


def generated_files() -> dict[Path, str]:
    """Relative path -> JSON text of every built-in file."""
    files = {}
    for name, build in TEMPLATE_FILES.items():
        files[Path("templates") / f"{name}.json"] = json.dumps(build(), indent=1) + "\n"
    for name, suite in syntaxgym_suites().items():
        files[Path("syntaxgym") / f"{name}.json"] = json.dumps(suite, indent=1) + "\n"
    return files


def main() -> None:
    for relative, text in generated_files().items():
        path = BUILTIN_DIR / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

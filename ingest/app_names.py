"""Believable names and origins for the simulator's long tail of apps: two words that
fit the app's category ("CodePilot", "Lore Weaver AI") and a site for each
("https://lorewaver.chat", "https://github.com/patchsmith/patchsmith"), unique, drawn
from their own seeded generator so the simulator's other draws are unchanged."""

from __future__ import annotations

import random
import re

# Per category: first words, second words.
WORDS = {
    "programming": (
        "Code Dev Byte Stack Git Patch Lint Commit Merge Shell Script Debug Refactor Syntax Kernel Forge Logic Loop Diff Branch",
        "Pilot Mate Buddy Smith Craft Flow Bot Works Lab Assist Wise Sense Hub Kit Runner Scout",
    ),
    "roleplay": (
        "Tavern Dream Story Myth Lore Echo Velvet Moon Ember Quest Saga Fable Persona Muse Starlit Hollow",
        "Weaver Realm Chat Tales Haven Garden Verse Nook Spire Companion Club Keeper Hearth",
    ),
    "marketing": (
        "Ad Brand Copy Pitch Funnel Launch Buzz Growth Campaign Promo Hook Reach",
        "Genie Writer Pro Studio Spark Boost Engine Desk Flow Craft Lift",
    ),
    "marketing-seo": (
        "Rank SERP Keyword Link Meta Crawl Index Blog Content Search Snippet",
        "Writer Scout Boost Pilot Forge Genius Flow Sprout Radar Lift Wise",
    ),
    "technology": (
        "Cloud Data Net Ops Signal Vector Quantum Sync Node Circuit Relay Pixel",
        "Desk Chat Hub Board Assist Panel Base Works Lens Sense Mind",
    ),
    "science": (
        "Paper Cite Research Atlas Helix Nova Proof Thesis Orbit Isotope Lumen",
        "Mind Reader Scholar Digest Notes Scope Graph Lab Sense Lens",
    ),
    "translation": (
        "Lingo Babel Polyglot Glot Idiom Locale Verba Phrase Dialect Accent Word",
        "Bridge Flow Pal Lens Sync Cast Mate Swap Shift Way",
    ),
    "legal": (
        "Lex Clause Brief Counsel Docket Verdict Statute Contract Case Juris Notary",
        "Mind Draft Check Desk Pilot Review Lens Scan Assist Sense",
    ),
    "finance": (
        "Ledger Quant Fin Coin Alpha Budget Tax Equity Fund Market Yield",
        "Sense Pilot Wise Desk Lens Scout Mate Flow Board Track",
    ),
    "health": (
        "Med Care Vital Pulse Thera Nutri Well Symptom Cardio Calm Dose",
        "Mate Coach Notes Guide Scribe Check Pal Track Path Assist",
    ),
    "trivia": (
        "Quiz Trivia Brain Fact Puzzle Riddle Know Wonder Clue Buzzer",
        "Night Master Blitz Box Quest Buddy Party Duel Arena Hunt",
    ),
    "academia": (
        "Study Tutor Essay Campus Scholar Learn Lecture Grade Syllabus Flash",
        "Buddy Mate Pal Hub Coach Helper Notes Wise Desk Card",
    ),
}
TLDS = (".ai", ".ai", ".app", ".io", ".com", ".dev", ".chat", ".so", ".co")
QUALIFIERS = ("Pro", "Studio", "Labs", "Plus", "Cloud", "One", "Go", "HQ", "X", "Now")


class NameMaker:
    """Unique app names and origins, deterministic for a seed."""

    def __init__(self, seed: int | str):
        self.rng = random.Random(f"{seed}-app-names")
        self.names: set[str] = set()
        self.origins: set[str] = set()

    def _name(self, category: str) -> str:
        firsts, seconds = (words.split() for words in WORDS.get(category, WORDS["technology"]))
        for attempt in range(40):
            first, second = self.rng.choice(firsts), self.rng.choice(seconds)
            name = f"{first}{second}" if self.rng.random() < 0.55 else f"{first} {second}"
            if self.rng.random() < 0.2:
                name += " AI"
            if attempt >= 20:
                name += " " + self.rng.choice(QUALIFIERS)
            if name.casefold() not in self.names:
                return name
        number = 2
        while f"{name} {number}".casefold() in self.names:
            number += 1
        return f"{name} {number}"

    def _origin(self, name: str, category: str) -> str:
        word = re.sub(r"[^a-z0-9]", "", name.lower().removesuffix(" ai"))
        roll = self.rng.random()
        if category == "programming" and roll < 0.2:
            candidates = [f"https://github.com/{word}/{word}", f"https://github.com/{word}-dev/{word}"]
        elif roll < 0.12:
            candidates = [f"https://{word}.vercel.app", f"https://{word}.netlify.app"]
        else:
            candidates = [f"https://{word}{tld}" for tld in self.rng.sample(TLDS, len(TLDS))]
        candidates += [f"https://get{word}{tld}" for tld in TLDS] + [f"https://{word}-app.com"]
        origin = next((c for c in candidates if c not in self.origins), None)
        number = 2
        while origin is None:
            origin = f"https://{word}{number}.app"
            origin = None if origin in self.origins else origin
            number += 1
        return origin

    def make(self, category: str) -> tuple[str, str]:
        """A new (name, origin) for an app of ``category``."""
        name = self._name(category)
        origin = self._origin(name, category)
        self.names.add(name.casefold())
        self.origins.add(origin)
        return name, origin

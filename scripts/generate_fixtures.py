#!/usr/bin/env python3
"""Generate the example shop in ``fixtures/`` (seeded, deterministic).

    python scripts/generate_fixtures.py [--out fixtures] [--seed 42]

Writes ``catalog.csv``, ``profiles.csv``, ``events.jsonl`` and ``personas/*.json``
(+ ``personas/README.md``) in the formats of ``docs/data-formats.md``. The reference
"now" is 2026-11-23T12:00:00Z; the events span the 75 days before it.

Determinism: only the standard library is used, and every random draw goes through
``random.Random.random()`` (the one method whose sequence Python guarantees across
versions for a given seed); choices, integers, shuffles and Gaussians are derived from
it here. Output is written with fixed key order, ``\\n`` line endings and UTF-8, so two
runs — on any machine — produce byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REF = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
SPAN_DAYS = 75
SEED = 42
N_PROFILES = 640
N_ANONYMOUS_VISITORS = 220
NAMESPACE = uuid.UUID("6f1c2a9e-3b7d-4c55-9a1e-7d2b8c4f0a42")

CATALOG_FIELDS = [
    "id",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "stock",
    "image_url",
    "url",
    "tags",
    "created_at",
]
PROFILE_FIELDS = [
    "user_id",
    "email",
    "first_name",
    "last_name",
    "city",
    "country",
    "locale",
    "timezone",
    "consent_personalization",
    "consent_tracking",
    "consent_email_marketing",
    "created_at",
]


# --------------------------------------------------------------------------- random helpers


class Rng:
    """Everything derived from ``random.Random.random()`` so the stream is version-stable."""

    def __init__(self, seed: int):
        self._r = random.Random(seed)

    def random(self) -> float:
        return self._r.random()

    def randint(self, a: int, b: int) -> int:
        """Inclusive on both ends."""
        return a + min(int(self.random() * (b - a + 1)), b - a)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def chance(self, p: float) -> bool:
        return self.random() < p

    def choice(self, seq):
        return seq[min(int(self.random() * len(seq)), len(seq) - 1)]

    def weighted(self, seq, weights):
        total = sum(weights)
        x = self.random() * total
        acc = 0.0
        for item, w in zip(seq, weights, strict=True):
            acc += w
            if x < acc:
                return item
        return seq[-1]

    def shuffle(self, seq: list) -> None:
        for i in range(len(seq) - 1, 0, -1):
            j = self.randint(0, i)
            seq[i], seq[j] = seq[j], seq[i]

    def sample(self, seq, k: int) -> list:
        pool = list(seq)
        self.shuffle(pool)
        return pool[:k]

    def gauss(self, mu: float, sigma: float) -> float:
        u1 = max(self.random(), 1e-12)
        u2 = self.random()
        return mu + sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(x: float) -> float:
    return round(x + 1e-9, 2)


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())


# --------------------------------------------------------------------------- the catalog

CATEGORIES = {
    "Outerwear": {
        "nouns": [
            "Parka",
            "Puffer Jacket",
            "Wool Coat",
            "Trench Coat",
            "Rain Jacket",
            "Bomber Jacket",
            "Quilted Vest",
            "Peacoat",
            "Shell Jacket",
            "Down Jacket",
            "Field Jacket",
            "Overshirt",
        ],
        "materials": [
            "Wool-Blend",
            "Recycled Nylon",
            "Waxed Cotton",
            "Down-Filled",
            "Waterproof",
            "Shearling-Lined",
            "Organic Cotton",
            "Ripstop",
        ],
        "adjectives": [
            "Classic",
            "Cropped",
            "Oversized",
            "Hooded",
            "Packable",
            "Longline",
            "Insulated",
            "Lightweight",
            "Relaxed",
            "Tailored",
        ],
        "price": (89, 420),
        "blurbs": [
            "keeps out wind and rain on the commute",
            "layers easily over knitwear on cold mornings",
            "is warm without the bulk for winter city walks",
            "packs down small for travel and hiking",
            "is cut roomy enough to wear over a thick sweater",
        ],
        "features": [
            "Two-way zip, storm flap and deep fleece-lined hand pockets.",
            "Adjustable hood, taped seams and a breathable waterproof membrane.",
            "Responsibly sourced insulation rated for sub-zero temperatures.",
            "Finished with horn buttons and a smooth satin lining.",
            "Reflective trims and an internal phone pocket.",
        ],
        "tags": ["winter", "layering", "waterproof", "warm", "travel", "commute"],
    },
    "Knitwear": {
        "nouns": [
            "Crewneck Sweater",
            "Cardigan",
            "Turtleneck",
            "Cable-Knit Jumper",
            "Knit Vest",
            "Half-Zip Sweater",
            "Rollneck",
            "Polo Sweater",
            "Knit Hoodie",
            "V-Neck Sweater",
        ],
        "materials": [
            "Merino",
            "Cashmere",
            "Lambswool",
            "Organic Cotton",
            "Alpaca-Blend",
            "Mohair-Blend",
            "Recycled Wool",
        ],
        "adjectives": [
            "Chunky",
            "Fine-Gauge",
            "Ribbed",
            "Relaxed",
            "Fisherman",
            "Brushed",
            "Everyday",
            "Heritage",
            "Slim",
        ],
        "price": (49, 260),
        "blurbs": [
            "is soft against the skin and warm on cold evenings",
            "layers neatly under a coat or over a shirt",
            "keeps its shape wash after wash",
            "is a cosy weekend staple that breathes indoors",
        ],
        "features": [
            "Ribbed cuffs and hem, knitted in Scotland.",
            "Traceable fibre from a mulesing-free farm.",
            "Garment-dyed for a soft, lived-in colour.",
            "Machine washable on a cool wool cycle.",
            "Mother-of-pearl buttons and reinforced elbows.",
        ],
        "tags": ["cosy", "soft", "winter", "gift", "layering", "warm"],
    },
    "Shoes": {
        "nouns": [
            "Sneakers",
            "Chelsea Boots",
            "Loafers",
            "Running Shoes",
            "Hiking Boots",
            "Derby Shoes",
            "Slip-Ons",
            "Ankle Boots",
            "Trail Runners",
            "Desert Boots",
            "Court Trainers",
        ],
        "materials": ["Leather", "Suede", "Canvas", "Knit Mesh", "Nubuck", "Waterproof Leather", "Recycled"],
        "adjectives": [
            "Minimal",
            "Chunky",
            "Low-Top",
            "Cushioned",
            "Lug-Sole",
            "Handmade",
            "Lightweight",
            "Retro",
            "All-Weather",
        ],
        "price": (59, 310),
        "blurbs": [
            "is comfortable from the first wear and built to be resoled",
            "grips wet pavements and muddy trails",
            "has a cushioned footbed for all-day walking",
            "dresses up or down with jeans and tailoring",
        ],
        "features": [
            "Goodyear-welted sole and a full leather lining.",
            "Vibram outsole with deep lugs for traction.",
            "Removable cork insole that moulds to your foot.",
            "Breathable knit upper with a padded heel collar.",
            "Water-repellent finish and sealed seams.",
        ],
        "tags": ["comfort", "walking", "running", "trail", "everyday", "waterproof"],
    },
    "Bags": {
        "nouns": [
            "Tote",
            "Backpack",
            "Crossbody Bag",
            "Weekender",
            "Messenger Bag",
            "Belt Bag",
            "Laptop Sleeve",
            "Duffel",
            "Bucket Bag",
            "Rolltop Backpack",
        ],
        "materials": [
            "Pebbled Leather",
            "Waxed Canvas",
            "Recycled Polyester",
            "Ballistic Nylon",
            "Vegan Leather",
            "Cotton Canvas",
        ],
        "adjectives": [
            "Everyday",
            "Structured",
            "Slouchy",
            "Compact",
            "Oversized",
            "Convertible",
            "Water-Resistant",
            "Travel",
        ],
        "price": (39, 340),
        "blurbs": [
            "fits a 15-inch laptop, a water bottle and a change of clothes",
            "carries everything for the commute without the bulk",
            "is sized for a weekend away as cabin luggage",
            "keeps essentials close on busy days",
        ],
        "features": [
            "Padded laptop compartment and a luggage pass-through.",
            "Adjustable webbing strap and solid brass hardware.",
            "Water-resistant base and hidden zip pockets.",
            "Lifetime warranty on stitching and zips.",
        ],
        "tags": ["travel", "commute", "laptop", "gift", "everyday", "weekend"],
    },
    "Accessories": {
        "nouns": [
            "Scarf",
            "Beanie",
            "Gloves",
            "Belt",
            "Wallet",
            "Sunglasses",
            "Cap",
            "Card Holder",
            "Watch Strap",
            "Socks Set",
            "Mittens",
        ],
        "materials": ["Cashmere", "Lambswool", "Leather", "Silk", "Acetate", "Organic Cotton", "Merino"],
        "adjectives": ["Classic", "Ribbed", "Slim", "Oversized", "Reversible", "Fringed"],
        "price": (15, 180),
        "blurbs": [
            "is the finishing touch for a winter outfit",
            "makes an easy, thoughtful gift",
            "is small enough for a pocket and built to last",
            "adds warmth without weight",
        ],
        "features": [
            "Gift-boxed with a handwritten care card.",
            "Vegetable-tanned leather that ages beautifully.",
            "UV400 lenses with a scratch-resistant coating.",
            "Knitted on heritage machines in Italy.",
        ],
        "tags": ["gift", "winter", "small", "warm", "everyday", "stocking-filler"],
        "pairs": {
            "Scarf": ["Cashmere", "Lambswool", "Silk", "Merino"],
            "Beanie": ["Cashmere", "Lambswool", "Merino"],
            "Gloves": ["Leather", "Cashmere", "Merino"],
            "Belt": ["Leather"],
            "Wallet": ["Leather"],
            "Sunglasses": ["Acetate"],
            "Cap": ["Organic Cotton", "Lambswool"],
            "Card Holder": ["Leather"],
            "Watch Strap": ["Leather"],
            "Socks Set": ["Merino", "Organic Cotton", "Cashmere"],
            "Mittens": ["Lambswool", "Cashmere", "Merino"],
        },
        "adjective_pairs": {
            "Sunglasses": ["Classic", "Oversized", "Slim", "Polarised"],
            "Gloves": ["Classic", "Touchscreen", "Ribbed"],
        },
    },
    "Home": {
        "nouns": [
            "Throw Blanket",
            "Scented Candle",
            "Mug Set",
            "Duvet Cover",
            "Cushion Cover",
            "Table Lamp",
            "Serving Bowl",
            "Towel Set",
            "Carafe",
            "Plant Pot",
            "Tea Towel Set",
        ],
        "materials": ["Linen", "Stoneware", "Soy Wax", "Organic Cotton", "Oak", "Wool", "Glass", "Terracotta"],
        "adjectives": ["Handmade", "Speckled", "Washed", "Waffle", "Minimal", "Rustic", "Nordic", "Hand-Glazed"],
        "price": (18, 240),
        "blurbs": [
            "brings warmth to the living room on dark evenings",
            "is made in small batches by local makers",
            "makes an elegant housewarming gift",
            "is durable enough for everyday use",
        ],
        "features": [
            "Dishwasher and microwave safe.",
            "Stonewashed for a soft, relaxed feel.",
            "Burns cleanly for about 50 hours with a cotton wick.",
            "OEKO-TEX certified and pre-shrunk.",
            "Each piece is unique in colour and glaze.",
        ],
        "tags": ["home", "gift", "cosy", "kitchen", "bedroom", "handmade"],
        "pairs": {
            "Throw Blanket": ["Wool", "Organic Cotton", "Linen"],
            "Scented Candle": ["Soy Wax"],
            "Mug Set": ["Stoneware"],
            "Duvet Cover": ["Linen", "Organic Cotton"],
            "Cushion Cover": ["Linen", "Wool", "Organic Cotton"],
            "Table Lamp": ["Oak", "Glass", "Stoneware"],
            "Serving Bowl": ["Stoneware", "Oak", "Glass"],
            "Towel Set": ["Organic Cotton", "Linen"],
            "Carafe": ["Glass"],
            "Plant Pot": ["Terracotta", "Stoneware"],
            "Tea Towel Set": ["Linen", "Organic Cotton"],
        },
    },
    "Beauty": {
        "nouns": [
            "Face Serum",
            "Hand Cream",
            "Lip Balm",
            "Eau de Parfum",
            "Shampoo Bar",
            "Body Lotion",
            "Clay Mask",
            "Moisturizer",
            "Cleansing Oil",
            "Body Wash",
            "Eye Cream",
        ],
        "materials": [
            "Vitamin C",
            "Hyaluronic",
            "Shea Butter",
            "Rosehip",
            "Lavender",
            "Unscented",
            "Cedarwood",
            "Niacinamide",
        ],
        "adjectives": [
            "Hydrating",
            "Brightening",
            "Soothing",
            "Nourishing",
            "Overnight",
            "Daily",
            "Travel-Size",
            "Repairing",
        ],
        "price": (9, 120),
        "blurbs": [
            "hydrates dry winter skin without a greasy finish",
            "suits sensitive skin and is fragrance-light",
            "is vegan, cruelty-free and dermatologist tested",
            "fits in a carry-on for travel",
        ],
        "features": [
            "Recyclable glass bottle with a pump.",
            "Free from parabens, silicones and sulphates.",
            "Cold-pressed botanical oils, made in France.",
            "Refillable aluminium packaging.",
        ],
        "tags": ["skincare", "vegan", "gift", "sensitive-skin", "travel", "self-care"],
        "pairs": {
            "Eau de Parfum": ["Cedarwood", "Lavender", "Rosehip"],
            "Lip Balm": ["Shea Butter", "Rosehip", "Unscented"],
            "Shampoo Bar": ["Lavender", "Cedarwood", "Unscented"],
            "Body Wash": ["Lavender", "Cedarwood", "Unscented"],
            "Hand Cream": ["Shea Butter", "Lavender", "Unscented"],
        },
    },
    "Sport": {
        "nouns": [
            "Yoga Mat",
            "Running Tights",
            "Training Tee",
            "Water Bottle",
            "Sports Bra",
            "Track Jacket",
            "Resistance Bands",
            "Cycling Jersey",
            "Running Shorts",
            "Base Layer",
            "Gym Bag",
        ],
        "materials": ["Recycled", "Sweat-Wicking", "Stretch", "Merino", "Thermal"],
        "adjectives": [
            "Performance",
            "Seamless",
            "High-Support",
            "Reflective",
            "Lightweight",
            "Compression",
            "Training",
            "Non-Slip",
        ],
        "price": (19, 160),
        "blurbs": [
            "dries fast and moves with you through every rep",
            "keeps you visible on early-morning runs",
            "grips on hot yoga and pilates sessions",
            "regulates temperature on long rides and runs",
        ],
        "features": [
            "Flatlock seams to prevent chafing.",
            "Anti-odour finish and a zipped key pocket.",
            "Keeps drinks cold for 24 hours.",
            "Four-way stretch fabric made from recycled bottles.",
        ],
        "tags": ["running", "yoga", "training", "outdoor", "gym", "performance"],
        "pairs": {
            "Yoga Mat": ["Cork", "Recycled"],
            "Water Bottle": ["Insulated Steel", "Recycled"],
            "Resistance Bands": ["Stretch", "Recycled"],
            "Gym Bag": ["Recycled"],
            "Base Layer": ["Merino", "Thermal", "Sweat-Wicking"],
        },
    },
}

# brand → (categories it makes, European brand pricing in EUR sometimes)
BRANDS = {
    "Northwind": (["Outerwear", "Knitwear", "Accessories"], False),
    "Alder & Co": (["Bags", "Accessories", "Home"], False),
    "Maison Clair": (["Beauty", "Home"], True),
    "Fjellström": (["Outerwear", "Sport", "Shoes"], True),
    "Harbor Supply": (["Bags", "Outerwear"], False),
    "Kestrel": (["Sport", "Shoes"], False),
    "Ondine": (["Beauty"], True),
    "Atelier Brun": (["Shoes", "Bags", "Accessories"], True),
    "Peakline": (["Outerwear", "Sport"], False),
    "Juniper Home": (["Home"], False),
    "Solenne": (["Beauty", "Accessories"], True),
    "Tallis": (["Knitwear", "Accessories"], False),
    "Corvo": (["Shoes", "Bags"], False),
    "Stride Lab": (["Sport", "Shoes"], False),
    "Lumen & Loom": (["Knitwear", "Home"], False),
}

COLOURS = [
    "Black",
    "Navy",
    "Charcoal",
    "Oat",
    "Olive",
    "Camel",
    "Forest Green",
    "Burgundy",
    "Stone",
    "Ecru",
    "Rust",
    "Slate Blue",
    "Sand",
    "Ivory",
    "Chocolate",
]
PRODUCTS_PER_CATEGORY = 32


def nice_price(rng: Rng, low: float, high: float) -> float:
    # log-uniform between the bounds, then a retail ending
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    whole = int(value)
    ending = rng.weighted([0.0, 0.5, 0.95, 0.99], [3, 1, 3, 3])
    return money(max(whole, 5) + ending)


def make_catalog(rng: Rng) -> list[dict]:
    products: list[dict] = []
    seen_titles: set[str] = set()
    created_start = datetime(2025, 1, 10, tzinfo=UTC)
    created_end = REF - timedelta(days=SPAN_DAYS + 5)
    for category, spec in CATEGORIES.items():
        brands = [b for b, (cats, _) in BRANDS.items() if category in cats]
        for _ in range(PRODUCTS_PER_CATEGORY):
            while True:
                noun = rng.choice(spec["nouns"])
                adjective = rng.choice(spec.get("adjective_pairs", {}).get(noun, spec["adjectives"]))
                material = rng.choice(spec.get("pairs", {}).get(noun, spec["materials"]))
                title = f"{adjective} {material} {noun}"
                if title not in seen_titles:
                    break
            seen_titles.add(title)
            brand = rng.choice(brands)
            colour = rng.choice(COLOURS)
            blurb = rng.choice(spec["blurbs"])
            feature = rng.choice(spec["features"])
            article = "An" if adjective[0] in "AEIOU" else "A"
            description = (
                f"{article} {adjective.lower()} {material.lower()} {noun.lower()} that {blurb}. "
                f"Shown here in {colour.lower()}. {feature}"
            )
            low, high = spec["price"]
            price = nice_price(rng, low, high)
            eu = BRANDS[brand][1]
            currency = "EUR" if eu and rng.chance(0.3) else "USD"
            tags = [category.lower(), ascii_slug(material) or "material", colour.lower().replace(" ", "-")]
            tags += rng.sample(spec["tags"], 2)
            # ~1 product in 10 is a new arrival, created during the last three weeks
            if rng.chance(0.1):
                created = REF - timedelta(days=rng.uniform(2, 21))
                tags.append("new")
            else:
                created = created_start + (created_end - created_start) * rng.random()
            products.append(
                {
                    "category": category,
                    "title": title,
                    "description": description,
                    "brand": brand,
                    "price": price,
                    "currency": currency,
                    "tags": tags,
                    "created": created.replace(microsecond=0),
                }
            )
    # order by creation date for the ids? no: keep category order, but interleave nothing — simple and stable
    n = len(products)
    zero = set(rng.sample(range(n), round(0.08 * n)))
    # popularity: a Zipf-like weight over a random ranking, plus a few global bestsellers
    ranking = list(range(n))
    rng.shuffle(ranking)
    rank_of = {idx: r for r, idx in enumerate(ranking)}
    bestsellers = set(ranking[:12])
    catalog = []
    for idx, p in enumerate(products):
        pid = f"sku-{idx + 1:04d}"
        popularity = 1.0 / (1 + rank_of[idx]) ** 0.85
        if idx in bestsellers:
            p["tags"].append("bestseller")
            popularity *= 3.0
        stock = 0 if idx in zero else rng.randint(1, 140)
        # de-duplicate tags, keep order
        tags = list(dict.fromkeys(p["tags"]))
        catalog.append(
            {
                "id": pid,
                "title": p["title"],
                "description": p["description"],
                "category": p["category"],
                "brand": p["brand"],
                "price": p["price"],
                "currency": p["currency"],
                "stock": stock,
                "image_url": f"https://cdn.example-shop.com/img/{pid}.jpg",
                "url": f"https://example-shop.com/p/{pid}",
                "tags": "|".join(tags),
                "created_at": iso(p["created"]),
                # generator-only fields (not written)
                "_popularity": popularity,
                "_created": p["created"],
            }
        )
    return catalog


# --------------------------------------------------------------------------- profiles

LOCALES = {
    "en_US": {
        "weight": 44,
        "country": "US",
        "domain_pref": "example.com",
        "first": [
            "James",
            "Mary",
            "Michael",
            "Jennifer",
            "Robert",
            "Linda",
            "David",
            "Emily",
            "Daniel",
            "Sarah",
            "Chris",
            "Jessica",
            "Matthew",
            "Ashley",
            "Andrew",
            "Megan",
            "Joshua",
            "Olivia",
            "Ryan",
            "Emma",
            "Tyler",
            "Hannah",
            "Brandon",
            "Madison",
            "Kevin",
            "Lauren",
            "Jason",
            "Rachel",
            "Justin",
            "Samantha",
            "Ethan",
            "Abigail",
            "Noah",
            "Chloe",
            "Aiden",
            "Grace",
            "Marcus",
            "Jasmine",
            "Luis",
            "Priya",
            "Wei",
            "Aaliyah",
            "Connor",
            "Natalie",
        ],
        "last": [
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Jones",
            "Garcia",
            "Miller",
            "Davis",
            "Rodriguez",
            "Martinez",
            "Wilson",
            "Anderson",
            "Taylor",
            "Thomas",
            "Moore",
            "Jackson",
            "Martin",
            "Lee",
            "Thompson",
            "White",
            "Harris",
            "Clark",
            "Lewis",
            "Walker",
            "Hall",
            "Young",
            "King",
            "Wright",
            "Nguyen",
            "Patel",
            "Kim",
            "O'Brien",
            "Chen",
            "Rivera",
            "Brooks",
            "Sullivan",
        ],
        "cities": [
            ("New York", "America/New_York", 14),
            ("Brooklyn", "America/New_York", 5),
            ("Boston", "America/New_York", 4),
            ("Philadelphia", "America/New_York", 3),
            ("Miami", "America/New_York", 3),
            ("Atlanta", "America/New_York", 3),
            ("Chicago", "America/Chicago", 6),
            ("Austin", "America/Chicago", 4),
            ("Houston", "America/Chicago", 3),
            ("Minneapolis", "America/Chicago", 2),
            ("Denver", "America/Denver", 3),
            ("Salt Lake City", "America/Denver", 1),
            ("Phoenix", "America/Phoenix", 2),
            ("Los Angeles", "America/Los_Angeles", 6),
            ("San Francisco", "America/Los_Angeles", 4),
            ("Seattle", "America/Los_Angeles", 4),
            ("Portland", "America/Los_Angeles", 2),
        ],
    },
    "en_GB": {
        "weight": 16,
        "country": "GB",
        "domain_pref": "example.org",
        "first": [
            "Oliver",
            "Amelia",
            "Harry",
            "Isla",
            "George",
            "Ava",
            "Jack",
            "Mia",
            "Charlie",
            "Poppy",
            "Alfie",
            "Freya",
            "Thomas",
            "Grace",
            "William",
            "Lily",
            "Oscar",
            "Evie",
            "Henry",
            "Sophie",
            "Archie",
            "Imogen",
            "Rory",
            "Niamh",
            "Callum",
            "Eilidh",
            "Arjun",
            "Zara",
        ],
        "last": [
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Williams",
            "Wilson",
            "Evans",
            "Davies",
            "Thomas",
            "Roberts",
            "Walker",
            "Wright",
            "Robinson",
            "Thompson",
            "Hughes",
            "Edwards",
            "Green",
            "Hall",
            "Wood",
            "Harris",
            "Clarke",
            "Patel",
            "Campbell",
            "MacDonald",
            "Khan",
            "Murphy",
        ],
        "cities": [
            ("London", "Europe/London", 10),
            ("Manchester", "Europe/London", 3),
            ("Edinburgh", "Europe/London", 2),
            ("Bristol", "Europe/London", 2),
            ("Leeds", "Europe/London", 2),
            ("Glasgow", "Europe/London", 2),
            ("Brighton", "Europe/London", 1),
        ],
    },
    "fr_FR": {
        "weight": 15,
        "country": "FR",
        "domain_pref": "example.org",
        "first": [
            "Camille",
            "Léa",
            "Manon",
            "Chloé",
            "Inès",
            "Jade",
            "Louise",
            "Zoé",
            "Hugo",
            "Lucas",
            "Louis",
            "Gabriel",
            "Arthur",
            "Jules",
            "Théo",
            "Raphaël",
            "Mathis",
            "Nathan",
            "Élodie",
            "Hélène",
            "François",
            "Émile",
            "Noémie",
            "Benoît",
            "Gaëlle",
            "Loïc",
            "Céline",
            "Amélie",
        ],
        "last": [
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Leroy",
            "Moreau",
            "Simon",
            "Laurent",
            "Lefèvre",
            "Michel",
            "Garcia",
            "David",
            "Bertrand",
            "Roux",
            "Vincent",
            "Fournier",
            "Girard",
            "Bonnet",
            "Dupont",
            "Lambert",
            "Fontaine",
            "Rousseau",
            "Mercier",
            "Blanc",
            "Guérin",
            "Faure",
        ],
        "cities": [
            ("Paris", "Europe/Paris", 10),
            ("Lyon", "Europe/Paris", 4),
            ("Marseille", "Europe/Paris", 3),
            ("Bordeaux", "Europe/Paris", 2),
            ("Lille", "Europe/Paris", 2),
            ("Nantes", "Europe/Paris", 2),
            ("Toulouse", "Europe/Paris", 2),
        ],
    },
    "de_DE": {
        "weight": 13,
        "country": "DE",
        "domain_pref": "example.org",
        "first": [
            "Lukas",
            "Leon",
            "Finn",
            "Jonas",
            "Paul",
            "Felix",
            "Maximilian",
            "Elias",
            "Noah",
            "Ben",
            "Mia",
            "Emma",
            "Hannah",
            "Sophia",
            "Lena",
            "Anna",
            "Lea",
            "Marie",
            "Johanna",
            "Clara",
            "Jürgen",
            "Jörg",
            "Sören",
            "Käthe",
            "Björn",
            "Grete",
        ],
        "last": [
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Schulz",
            "Hoffmann",
            "Schäfer",
            "Koch",
            "Bauer",
            "Richter",
            "Klein",
            "Wolf",
            "Schröder",
            "Neumann",
            "Schwarz",
            "Zimmermann",
            "Braun",
            "Krüger",
            "Hofmann",
            "Hartmann",
            "Lange",
        ],
        "cities": [
            ("Berlin", "Europe/Berlin", 8),
            ("Hamburg", "Europe/Berlin", 4),
            ("München", "Europe/Berlin", 4),
            ("Köln", "Europe/Berlin", 3),
            ("Frankfurt am Main", "Europe/Berlin", 2),
            ("Leipzig", "Europe/Berlin", 2),
            ("Stuttgart", "Europe/Berlin", 2),
        ],
    },
    "es_ES": {
        "weight": 12,
        "country": "ES",
        "domain_pref": "example.org",
        "first": [
            "Lucía",
            "Sofía",
            "Martina",
            "María",
            "Paula",
            "Julia",
            "Daniela",
            "Valeria",
            "Alba",
            "Carmen",
            "Hugo",
            "Martín",
            "Pablo",
            "Daniel",
            "Alejandro",
            "Álvaro",
            "Adrián",
            "Diego",
            "Javier",
            "Sergio",
            "José",
            "Iñaki",
            "Nuria",
            "Begoña",
        ],
        "last": [
            "García",
            "Rodríguez",
            "González",
            "Fernández",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Martín",
            "Jiménez",
            "Ruiz",
            "Hernández",
            "Díaz",
            "Moreno",
            "Muñoz",
            "Álvarez",
            "Romero",
            "Alonso",
            "Gutiérrez",
            "Navarro",
            "Torres",
            "Domínguez",
            "Vázquez",
            "Ramos",
        ],
        "cities": [
            ("Madrid", "Europe/Madrid", 8),
            ("Barcelona", "Europe/Madrid", 6),
            ("Valencia", "Europe/Madrid", 3),
            ("Sevilla", "Europe/Madrid", 2),
            ("Bilbao", "Europe/Madrid", 2),
            ("Málaga", "Europe/Madrid", 2),
        ],
    },
}

# standard-time UTC offsets (hours), only used to place sessions at plausible local hours
TZ_OFFSETS = {
    "America/New_York": -5,
    "America/Chicago": -6,
    "America/Denver": -7,
    "America/Phoenix": -7,
    "America/Los_Angeles": -8,
    "Europe/London": 0,
    "Europe/Paris": 1,
    "Europe/Berlin": 1,
    "Europe/Madrid": 1,
}
# relative activity by local hour 0..23: evenings and lunch breaks
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3, 3, 3, 3, 4, 4, 3, 3, 3, 4, 5, 7, 8, 8, 6, 3]


def make_profiles(rng: Rng) -> list[dict]:
    locales = list(LOCALES)
    weights = [LOCALES[loc]["weight"] for loc in locales]
    emails: set[str] = set()
    profiles = []
    for i in range(N_PROFILES):
        locale = rng.weighted(locales, weights)
        spec = LOCALES[locale]
        first = rng.choice(spec["first"])
        last = rng.choice(spec["last"])
        city, tz, _ = rng.weighted(spec["cities"], [c[2] for c in spec["cities"]])
        domain = (
            spec["domain_pref"]
            if rng.chance(0.7)
            else ("example.com" if spec["domain_pref"] == "example.org" else "example.org")
        )
        style = rng.randint(0, 3)
        f_slug, l_slug = ascii_slug(first), ascii_slug(last)
        base = {0: f"{f_slug}.{l_slug}", 1: f"{f_slug}{l_slug}", 2: f"{f_slug[0]}{l_slug}", 3: f"{f_slug}.{l_slug}"}[
            style
        ]
        if style == 3:
            base = f"{base}{rng.randint(1, 99)}"
        email = f"{base}@{domain}"
        n = 1
        while email in emails:
            n += 1
            email = f"{base}{n}@{domain}"
        emails.add(email)
        profiles.append(
            {
                "user_id": f"u-{i + 1:05d}",
                "email": email,
                "first_name": first,
                "last_name": last,
                "city": city,
                "country": spec["country"],
                "locale": locale,
                "timezone": tz,
                "consent_personalization": rng.chance(0.90),
                "consent_tracking": rng.chance(0.95),
                "consent_email_marketing": rng.chance(0.97),
                "created_at": None,  # filled once the behaviour is known
            }
        )
    return profiles


# --------------------------------------------------------------------------- events


class EventLog:
    def __init__(self):
        self.rows: list[tuple[datetime, int, dict]] = []
        self.orders = 0
        self.checkouts = 0

    def add(self, moment: datetime, message: dict) -> None:
        self.rows.append((moment, len(self.rows), message))

    def order_id(self) -> str:
        self.orders += 1
        return f"ord-{100000 + self.orders}"

    def checkout_id(self) -> str:
        self.checkouts += 1
        return f"chk-{200000 + self.checkouts}"


def product_props(p: dict) -> dict:
    return {
        "product_id": p["id"],
        "sku": p["id"],
        "name": p["title"],
        "category": p["category"],
        "brand": p["brand"],
        "price": p["price"],
        "currency": p["currency"],
        "url": p["url"],
        "image_url": p["image_url"],
    }


def line_item(p: dict, quantity: int) -> dict:
    return {
        "product_id": p["id"],
        "sku": p["id"],
        "name": p["title"],
        "category": p["category"],
        "brand": p["brand"],
        "price": p["price"],
        "quantity": quantity,
    }


def session_start(rng: Rng, day_lo: float, day_hi: float, tz: str) -> datetime:
    """A moment ``day_lo..day_hi`` days before REF at a plausible local hour."""
    days_ago = rng.uniform(day_lo, day_hi)
    day = (REF - timedelta(days=days_ago)).date()
    local_hour = rng.weighted(list(range(24)), HOUR_WEIGHTS)
    utc_hour = local_hour - TZ_OFFSETS.get(tz, 0)
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        hours=utc_hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
    )
    if moment < REF - timedelta(days=SPAN_DAYS, minutes=-30):
        moment += timedelta(days=1)  # keep whole sessions inside the window
    return moment


class Shop:
    """Draws products by category with a popularity skew."""

    def __init__(self, rng: Rng, catalog: list[dict]):
        self.rng = rng
        self.catalog = catalog
        self.categories = list(CATEGORIES)
        self.by_category = {c: [p for p in catalog if p["category"] == c] for c in self.categories}

    def pick(self, category: str, at: datetime, exclude: set[str] = frozenset()) -> dict:
        pool = [p for p in self.by_category[category] if p["_created"] <= at and p["id"] not in exclude]
        if not pool:
            pool = [p for p in self.by_category[category] if p["_created"] <= at] or self.by_category[category]
        return self.rng.weighted(pool, [p["_popularity"] for p in pool])


class User:
    def __init__(self, rng: Rng, key: str, tz: str, categories: list[str], user_id: str | None):
        self.user_id = user_id
        self.anonymous_id = str(uuid.uuid5(NAMESPACE, f"anon:{key}"))
        self.tz = tz
        self.identified = user_id is not None
        n_aff = 1 if rng.chance(0.55) else 2
        self.affinity = rng.sample(categories, n_aff)
        self.buy_propensity = min(1.0, max(0.05, rng.gauss(0.55, 0.25)))

    def ids(self) -> dict:
        if self.identified:
            return {"userId": self.user_id, "anonymousId": self.anonymous_id}
        return {"anonymousId": self.anonymous_id}

    def category(self, rng: Rng, categories: list[str]) -> str:
        if rng.chance(0.8):
            if len(self.affinity) == 1:
                return self.affinity[0]
            return self.affinity[0] if rng.chance(0.6) else self.affinity[1]
        return rng.choice(categories)


def emit_track(log: EventLog, user: User, moment: datetime, event: str, properties: dict) -> None:
    log.add(moment, {"type": "track", "event": event, **user.ids(), "properties": properties})


def run_session(
    rng: Rng,
    log: EventLog,
    shop: Shop,
    user: User,
    start: datetime,
    *,
    intent: str = "normal",
    max_moment: datetime = REF,
) -> datetime:
    """One visit. ``intent``: normal | browse (views only) | abandon (adds, never orders).

    Returns the time of the last event.
    """
    t = start
    category = user.category(rng, shop.categories)
    log.add(
        t,
        {
            "type": "page",
            "name": category,
            **user.ids(),
            "properties": {
                "path": f"/c/{category.lower()}",
                "url": f"https://example-shop.com/c/{category.lower()}",
                "title": f"{category} | Example Shop",
            },
        },
    )
    n_views = 1 + min(int(abs(rng.gauss(0, 2.2))), 7)
    if intent == "browse":
        n_views = max(n_views, 2)
    viewed: list[dict] = []
    cart: list[tuple[dict, int]] = []
    for _ in range(n_views):
        t += timedelta(seconds=rng.randint(15, 150))
        if rng.chance(0.15):
            category = user.category(rng, shop.categories)
        product = shop.pick(category, t, {p["id"] for p in viewed})
        viewed.append(product)
        emit_track(log, user, t, "Product Viewed", product_props(product))
        add_p = {"normal": 0.16, "browse": 0.0, "abandon": 0.45}[intent]
        can_add = product["stock"] > 0 and (not cart or cart[0][0]["currency"] == product["currency"])
        if can_add and len(cart) < 3 and rng.chance(add_p):
            quantity = 2 if rng.chance(0.1) else 1
            t += timedelta(seconds=rng.randint(10, 90))
            cart.append((product, quantity))
            emit_track(
                log,
                user,
                t,
                "Product Added",
                {**product_props(product), "quantity": quantity, "cart_id": f"cart-{user.anonymous_id[:8]}"},
            )
    if intent == "abandon" and not cart:
        # make sure the abandoner really has something in the cart
        for product in reversed(viewed):
            if product["stock"] > 0:
                t += timedelta(seconds=rng.randint(10, 90))
                cart.append((product, 1))
                emit_track(
                    log,
                    user,
                    t,
                    "Product Added",
                    {**product_props(product), "quantity": 1, "cart_id": f"cart-{user.anonymous_id[:8]}"},
                )
                break
    if not cart or not user.identified:
        return t
    checkout_p = {"normal": 0.55, "abandon": 0.5}.get(intent, 0.0)
    if not rng.chance(checkout_p):
        return t
    subtotal = money(sum(p["price"] * q for p, q in cart))
    currency = cart[0][0]["currency"]
    checkout_id = log.checkout_id()
    t += timedelta(seconds=rng.randint(30, 240))
    emit_track(
        log,
        user,
        t,
        "Checkout Started",
        {
            "checkout_id": checkout_id,
            "value": subtotal,
            "revenue": subtotal,
            "currency": currency,
            "products": [line_item(p, q) for p, q in cart],
        },
    )
    if intent == "abandon" or not rng.chance(0.35 + 0.6 * user.buy_propensity):
        return t
    shipping = 0.0 if subtotal >= 75 else 5.95
    tax = money(subtotal * 0.08) if currency == "USD" else 0.0
    t += timedelta(seconds=rng.randint(60, 420))
    if t >= max_moment:
        return t
    emit_track(
        log,
        user,
        t,
        "Order Completed",
        {
            "order_id": log.order_id(),
            "checkout_id": checkout_id,
            "total": money(subtotal + shipping + tax),
            "revenue": subtotal,
            "shipping": shipping,
            "tax": tax,
            "currency": currency,
            "products": [line_item(p, q) for p, q in cart],
        },
    )
    return t


def _sign_up(rng: Rng, log: EventLog, user: User, profile: dict, after: datetime) -> None:
    """Signs up at the end of the first (anonymous) visit: identify links the two ids."""
    user.identified = True
    signup = after + timedelta(seconds=rng.randint(20, 120))
    log.add(
        signup,
        {
            "type": "identify",
            "userId": user.user_id,
            "anonymousId": user.anonymous_id,
            "traits": {
                "email": profile["email"],
                "first_name": profile["first_name"],
                "last_name": profile["last_name"],
                "city": profile["city"],
            },
        },
    )
    profile["created_at"] = iso(signup)


def _last_days(rng: Rng, log: EventLog, shop: Shop, user: User, tz: str, *, abandons: bool, browses: bool) -> None:
    """The sessions of the last days that make a cart or browse abandoner."""
    if abandons:
        start = session_start(rng, 2 / 24, 6, tz)
        start = min(start, REF - timedelta(hours=2))
        run_session(rng, log, shop, user, start, intent="abandon")
    if browses:
        for _ in range(rng.randint(1, 2)):
            start = min(session_start(rng, 3 / 24, 4, tz), REF - timedelta(hours=3))
            run_session(rng, log, shop, user, start, intent="browse")


def _anonymous_visitors(rng: Rng, log: EventLog, shop: Shop, categories: list[str]) -> None:
    """Visitors who never sign up."""
    for v in range(N_ANONYMOUS_VISITORS):
        locale = rng.weighted(list(LOCALES), [LOCALES[loc]["weight"] for loc in LOCALES])
        spec = LOCALES[locale]
        _, tz, _ = rng.weighted(spec["cities"], [c[2] for c in spec["cities"]])
        visitor = User(rng, f"visitor-{v}", tz, categories, None)
        for _ in range(rng.randint(1, 3)):
            start = session_start(rng, 0.1, SPAN_DAYS - 0.5, tz)
            run_session(rng, log, shop, visitor, start, intent="normal")


def make_events(rng: Rng, catalog: list[dict], profiles: list[dict]) -> list[dict]:
    log = EventLog()
    shop = Shop(rng, catalog)
    categories = shop.categories
    order = list(range(len(profiles)))
    rng.shuffle(order)
    n = len(profiles)
    inactive = set(order[: int(0.08 * n)])  # subscribers with no tracked behaviour
    abandoners = set(order[int(0.08 * n) : int(0.08 * n) + 48])  # abandon a cart in the last days
    browsers = set(order[int(0.08 * n) + 48 : int(0.08 * n) + 96])  # only browse recently
    signups = set(order[int(0.08 * n) + 96 : int(0.08 * n) + 96 + int(0.25 * n)])  # anonymous first, then sign up

    for idx, profile in enumerate(profiles):
        tz = profile["timezone"]
        if idx in inactive or not profile["consent_tracking"]:  # no tracked behaviour without tracking consent
            days = rng.uniform(1, 700)
            profile["created_at"] = iso((REF - timedelta(days=days)).replace(microsecond=0))
            continue
        user = User(rng, profile["user_id"], tz, categories, profile["user_id"])
        n_sessions = max(1, min(60, int(math.exp(rng.gauss(math.log(9.5), 0.75)))))
        recent_special = idx in abandoners or idx in browsers
        lo = 8.0 if recent_special else 0.05
        starts = sorted(session_start(rng, lo, SPAN_DAYS - 0.5, tz) for _ in range(n_sessions))
        starts = [s for s in starts if s < REF - timedelta(minutes=30)] or [REF - timedelta(days=30)]
        if idx in signups:
            user.identified = False
        first_moment = None
        for start in starts:
            last = run_session(rng, log, shop, user, start, intent="browse" if not user.identified else "normal")
            first_moment = first_moment or start
            if not user.identified:
                _sign_up(rng, log, user, profile, after=last)
        _last_days(rng, log, shop, user, tz, abandons=idx in abandoners, browses=idx in browsers)
        if profile["created_at"] is None:
            before = first_moment - timedelta(days=rng.uniform(1, 700))
            profile["created_at"] = iso(before.replace(microsecond=0))

    _anonymous_visitors(rng, log, shop, categories)

    # a session started just before REF may run past it: the future has not happened yet
    rows = sorted((r for r in log.rows if r[0] < REF), key=lambda r: (r[0], r[1]))
    assert rows[0][0] >= REF - timedelta(days=SPAN_DAYS), "an event fell before the window"
    events = []
    for n_row, (moment, _, message) in enumerate(rows):
        ordered = {"type": message["type"]}
        if "event" in message:
            ordered["event"] = message["event"]
        if "name" in message:
            ordered["name"] = message["name"]
        ordered["messageId"] = str(uuid.uuid5(NAMESPACE, f"event:{n_row}"))
        ordered["timestamp"] = iso(moment)
        for key in ("userId", "anonymousId"):
            if key in message:
                ordered[key] = message[key]
        for key in ("properties", "traits"):
            if key in message:
                ordered[key] = message[key]
        events.append(ordered)
    return events


# --------------------------------------------------------------------------- personas


class PersonaBuilder:
    def __init__(self, name: str):
        self.name = name
        self.pid = f"persona-{name}"
        self.events: list[dict] = []
        self.orders = 0

    def track(self, moment: datetime, event: str, properties: dict) -> None:
        self.events.append(
            {"type": "track", "event": event, "userId": self.pid, "timestamp": iso(moment), "properties": properties}
        )

    def view(self, moment: datetime, p: dict) -> None:
        self.track(moment, "Product Viewed", product_props(p))

    def add(self, moment: datetime, p: dict, quantity: int = 1) -> None:
        self.track(moment, "Product Added", {**product_props(p), "quantity": quantity})

    def checkout(self, moment: datetime, items: list[tuple[dict, int]]) -> None:
        value = money(sum(p["price"] * q for p, q in items))
        self.track(
            moment,
            "Checkout Started",
            {
                "checkout_id": f"chk-{self.name}-{len(self.events)}",
                "value": value,
                "revenue": value,
                "currency": items[0][0]["currency"],
                "products": [line_item(p, q) for p, q in items],
            },
        )

    def order(self, moment: datetime, items: list[tuple[dict, int]]) -> float:
        """A full purchase: views and adds a few minutes earlier, then the order."""
        t = moment - timedelta(minutes=12)
        for p, q in items:
            self.view(t, p)
            t += timedelta(minutes=2)
            self.add(t, p, q)
            t += timedelta(seconds=40)
        subtotal = money(sum(p["price"] * q for p, q in items))
        currency = items[0][0]["currency"]
        shipping = 0.0 if subtotal >= 75 else 5.95
        tax = money(subtotal * 0.08) if currency == "USD" else 0.0
        self.orders += 1
        self.track(
            moment,
            "Order Completed",
            {
                "order_id": f"ord-{self.name}-{self.orders}",
                "total": money(subtotal + shipping + tax),
                "revenue": subtotal,
                "shipping": shipping,
                "tax": tax,
                "currency": currency,
                "products": [line_item(p, q) for p, q in items],
            },
        )
        return subtotal

    def document(self, email: str, traits: dict, consents: dict | None = None) -> dict:
        self.events.sort(key=lambda e: e["timestamp"])
        for k, e in enumerate(self.events):
            e["messageId"] = f"{self.pid}-{k + 1:03d}"
        events = [
            {
                "type": e["type"],
                "event": e["event"],
                "messageId": e["messageId"],
                "timestamp": e["timestamp"],
                "userId": e["userId"],
                "properties": e["properties"],
            }
            for e in self.events
        ]
        return {
            "id": self.pid,
            "email": email,
            "traits": traits,
            "consents": consents or {"personalization": True, "tracking": True, "email_marketing": True},
            "events": events,
        }


def make_personas(rng: Rng, catalog: list[dict]) -> dict[str, dict]:
    def pick(category: str, k: int, lo: float = 0, hi: float = 1e9, currency: str = "USD") -> list[dict]:
        base = [
            p
            for p in catalog
            if p["stock"] > 0
            and p["category"] == category
            and p["currency"] == currency
            and "new" not in p["tags"].split("|")
        ]
        pool = [p for p in base if lo <= p["price"] <= hi]
        if len(pool) < k:  # too few in that price band: take the closest prices instead
            pool = sorted(base, key=lambda p: min(abs(p["price"] - lo), abs(p["price"] - hi)))[: max(k, 3)]
        if len(pool) < k:
            raise RuntimeError(f"not enough {currency} {category} products in stock for a persona")
        return rng.sample(pool, k)

    ago = lambda **kw: REF - timedelta(**kw)  # noqa: E731
    personas: dict[str, dict] = {}

    # new-subscriber: signed up yesterday, no behaviour at all
    b = PersonaBuilder("new-subscriber")
    personas[b.name] = b.document(
        "new-subscriber@example.com",
        {
            "first_name": "Maya",
            "last_name": "Okafor",
            "city": "Chicago",
            "country": "US",
            "locale": "en_US",
            "timezone": "America/Chicago",
            "created_at": iso(ago(days=1)),
            "signup_source": "newsletter-footer",
        },
    )

    # vip-new-york: many orders, lifetime value > 1500, last order 10 days ago
    b = PersonaBuilder("vip-new-york")
    total = 0.0
    for days, cat in [
        (10, "Outerwear"),
        (23, "Knitwear"),
        (37, "Shoes"),
        (58, "Outerwear"),
        (84, "Bags"),
        (121, "Knitwear"),
        (167, "Accessories"),
        (233, "Outerwear"),
    ]:
        items = [(p, 1) for p in pick(cat, 1, 150, 1e9)]
        if rng.chance(0.5):
            items += [(p, 1) for p in pick("Accessories", 1, 20, 120)]
        total += b.order(ago(days=days, hours=rng.randint(0, 6)), items)
    while total <= 1500:  # top up (never happens with the seed, but keeps the contract)
        total += b.order(ago(days=300), [(pick("Outerwear", 1, 200)[0], 1)])
    personas[b.name] = b.document(
        "vip.ny@example.com",
        {
            "first_name": "Olivia",
            "last_name": "Bennett",
            "city": "New York",
            "country": "US",
            "locale": "en_US",
            "timezone": "America/New_York",
            "created_at": iso(ago(days=410)),
            "segment": "vip",
        },
    )

    # cart-abandoner: Product Added + Checkout Started ~3h before REF, nothing since
    b = PersonaBuilder("cart-abandoner")
    b.order(ago(days=41, hours=3), [(pick("Sport", 1, 20, 80)[0], 1)])  # an older, unrelated order
    jacket = pick("Outerwear", 1, 100, 400)[0]
    boots = pick("Shoes", 1, 80, 300)[0]
    b.view(ago(hours=3, minutes=25), jacket)
    b.add(ago(hours=3, minutes=22), jacket)
    b.view(ago(hours=3, minutes=15), boots)
    b.add(ago(hours=3, minutes=12), boots)
    b.checkout(ago(hours=3), [(jacket, 1), (boots, 1)])
    personas[b.name] = b.document(
        "cart.abandoner@example.com",
        {
            "first_name": "Jordan",
            "last_name": "Reyes",
            "city": "Austin",
            "country": "US",
            "locale": "en_US",
            "timezone": "America/Chicago",
            "created_at": iso(ago(days=200)),
        },
    )

    # browse-abandoner: three knitwear views ~5h before REF, nothing added
    b = PersonaBuilder("browse-abandoner")
    for k, p in enumerate(pick("Knitwear", 3, 40, 300)):
        b.view(ago(hours=5, minutes=10 - 4 * k), p)
    personas[b.name] = b.document(
        "browse.abandoner@example.org",
        {
            "first_name": "Priya",
            "last_name": "Shah",
            "city": "Seattle",
            "country": "US",
            "locale": "en_US",
            "timezone": "America/Los_Angeles",
            "created_at": iso(ago(days=95)),
        },
    )

    # lapsed-customer: last order 120 days ago (this persona's history goes back further than the shop's)
    b = PersonaBuilder("lapsed-customer")
    b.order(ago(days=290), [(pick("Home", 1, 30, 200)[0], 1)])
    b.order(ago(days=185), [(pick("Home", 1, 30, 200)[0], 2)])
    b.order(ago(days=120), [(pick("Beauty", 1, 15, 100)[0], 1), (pick("Home", 1, 20, 120)[0], 1)])
    personas[b.name] = b.document(
        "lapsed.customer@example.org",
        {
            "first_name": "Harry",
            "last_name": "Davies",
            "city": "Manchester",
            "country": "GB",
            "locale": "en_GB",
            "timezone": "Europe/London",
            "created_at": iso(ago(days=540)),
        },
    )

    # no-consent: behaviour that would trigger a cart reminder, but no personalization consent
    b = PersonaBuilder("no-consent")
    b.order(ago(days=33), [(pick("Bags", 1, 40, 250)[0], 1)])
    viewed = pick("Bags", 2, 40, 300)
    b.view(ago(hours=4, minutes=20), viewed[0])
    b.view(ago(hours=4, minutes=12), viewed[1])
    b.add(ago(hours=4, minutes=8), viewed[1])
    personas[b.name] = b.document(
        "no.consent@example.com",
        {
            "first_name": "Sam",
            "last_name": "Whitaker",
            "city": "Boston",
            "country": "US",
            "locale": "en_US",
            "timezone": "America/New_York",
            "created_at": iso(ago(days=150)),
        },
        {"personalization": False, "tracking": True, "email_marketing": True},
    )

    # french-shopper: fr_FR / Europe/Paris, an order in EUR
    b = PersonaBuilder("french-shopper")
    eur_items = [(p, 1) for p in pick("Beauty", 2, 10, 120, currency="EUR")]
    b.order(ago(days=16, hours=2), eur_items)
    for p in pick("Beauty", 2, 10, 120, currency="USD"):
        b.view(ago(days=21), p)
    personas[b.name] = b.document(
        "helene.dubois@example.org",
        {
            "first_name": "Hélène",
            "last_name": "Dubois",
            "city": "Lyon",
            "country": "FR",
            "locale": "fr_FR",
            "timezone": "Europe/Paris",
            "created_at": iso(ago(days=260)),
        },
    )

    # sparse-data: an address and consents, nothing else
    b = PersonaBuilder("sparse-data")
    personas[b.name] = b.document("sparse.data@example.org", {})

    # recent-buyer: added to cart two days ago, ordered it yesterday — no cart abandonment
    b = PersonaBuilder("recent-buyer")
    item = pick("Shoes", 1, 60, 250)[0]
    extra = pick("Accessories", 1, 15, 60)[0]
    b.view(ago(days=2, hours=1), item)
    b.add(ago(days=2), item)
    b.view(ago(days=1, hours=1), extra)
    b.add(ago(days=1, minutes=30), extra)
    b.checkout(ago(days=1, minutes=10), [(item, 1), (extra, 1)])
    subtotal = money(item["price"] + extra["price"])
    tax = money(subtotal * 0.08)
    shipping = 0.0 if subtotal >= 75 else 5.95
    b.track(
        ago(days=1),
        "Order Completed",
        {
            "order_id": "ord-recent-buyer-1",
            "total": money(subtotal + shipping + tax),
            "revenue": subtotal,
            "shipping": shipping,
            "tax": tax,
            "currency": "USD",
            "products": [line_item(item, 1), line_item(extra, 1)],
        },
    )
    personas[b.name] = b.document(
        "recent.buyer@example.com",
        {
            "first_name": "Ethan",
            "last_name": "Cole",
            "city": "Denver",
            "country": "US",
            "locale": "en_US",
            "timezone": "America/Denver",
            "created_at": iso(ago(days=61)),
        },
    )
    return personas


def persona_readme(personas: dict[str, dict]) -> str:
    def products(name: str, event: str) -> str:
        """Product ids of ``event`` in the last three days before REF."""
        ids = []
        recent = iso(REF - timedelta(days=3))
        for e in personas[name]["events"]:
            if e["event"] == event and e["properties"].get("product_id") and e["timestamp"] >= recent:
                ids.append(e["properties"]["product_id"])
        return ", ".join(f"`{i}`" for i in dict.fromkeys(ids))

    def orders(name: str) -> tuple[int, float, str]:
        os_ = [e for e in personas[name]["events"] if e["event"] == "Order Completed"]
        return len(os_), money(sum(e["properties"]["revenue"] for e in os_)), (os_[-1]["timestamp"] if os_ else "-")

    vip_n, vip_ltv, vip_last = orders("vip-new-york")
    cart_ids = products("cart-abandoner", "Product Added")
    browse_ids = products("browse-abandoner", "Product Viewed")
    nc_ids = products("no-consent", "Product Added")
    rb_ids = products("recent-buyer", "Product Added")
    rows = [  # persona, key facts, what it should see
        (
            "new-subscriber",
            "Maya, Chicago (en_US, America/Chicago); signed up 1 day ago (`created_at`); **no events**",
            "the welcome path: generic/popular content, no triggers, no history-based recommendations",
        ),
        (
            "vip-new-york",
            f"Olivia, **New York**, trait `segment: vip`; {vip_n} orders, "
            f"lifetime value **{vip_ltv:.2f} USD** (> 1500), last order {vip_last} (**10 days ago**)",
            "VIP / New York rules (e.g. the winter promo hero), recommendations from her purchase history, never "
            "products she already bought",
        ),
        (
            "cart-abandoner",
            f"Jordan, Austin; Product Added {cart_ids} and Checkout Started **3 hours before** the reference time, "
            "no order since (an older order 41 days ago was for something else)",
            "cart abandonment active with those items (after 1h, within 7d)",
        ),
        (
            "browse-abandoner",
            f"Priya, Seattle; **3 Product Viewed in Knitwear** ({browse_ids}) **5 hours before**, nothing added, "
            "no order",
            "browse abandonment active (≥ 2 views within 7d, after 2h); knitwear recommendations",
        ),
        (
            "lapsed-customer",
            "Harry, Manchester (en_GB, Europe/London); 3 orders, the **last 120 days ago** (his history reaches "
            "290 days back, beyond the shop's 75-day window)",
            "win-back / lapsed content; no cart or browse trigger",
        ),
        (
            "no-consent",
            "Sam, Boston; `consents.personalization: false` but has behaviour: an order 33 days ago and a Product "
            f"Added ({nc_ids}) 4 hours ago",
            "only non-personalized defaults: no behavioural rules, no cart reminder, no history-based recommendations",
        ),
        (
            "french-shopper",
            "Hélène Dubois, Lyon, locale **fr_FR**, timezone **Europe/Paris**; an order in EUR 16 days ago",
            "French number/money/date formatting, Paris-time dates, accented name escaped correctly",
        ),
        (
            "sparse-data",
            "an email and consents only: **no first_name, no city, no traits, no events**",
            "every fallback: greeting without a name, generic content, globally popular recommendations",
        ),
        (
            "recent-buyer",
            f"Ethan, Denver; added {rb_ids} 2 days / 1 day ago and **ordered them yesterday** (the order comes "
            "after the adds)",
            "**no** cart abandonment (the order converted the cart); order-confirmation / post-purchase content",
        ),
    ]
    table = "\n".join(f"| `{name}` | {facts} | {should} |" for name, facts, should in rows)
    return f"""# Personas

Generated by `scripts/generate_fixtures.py` (do not edit by hand: run `make fixtures`).
Each file is a profile document (`id, email, traits, consents, events`; see SPEC.md) whose
id starts with `persona-` (never in `profiles.csv`) and whose events name real products of
`catalog.csv`. All timing is relative to the shop's reference time **2026-11-23T12:00:00Z**
(render with `--at 2026-11-23T12:00:00Z`).

| persona | key facts | should see |
|---|---|---|
{table}
"""


# --------------------------------------------------------------------------- writing


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        out = {}
        for key in fields:
            value = row[key]
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, float):
                value = f"{value:.2f}"
            out[key] = value
        writer.writerow(out)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def generate(out: Path, seed: int = SEED) -> dict:
    rng = Rng(seed)
    catalog = make_catalog(rng)
    profiles = make_profiles(rng)
    events = make_events(rng, catalog, profiles)
    personas = make_personas(rng, catalog)

    out.mkdir(parents=True, exist_ok=True)
    (out / "personas").mkdir(exist_ok=True)
    write_csv(out / "catalog.csv", CATALOG_FIELDS, catalog)
    write_csv(out / "profiles.csv", PROFILE_FIELDS, profiles)
    (out / "events.jsonl").write_text("".join(dump(e) + "\n" for e in events), encoding="utf-8", newline="")
    for name, doc in personas.items():
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        (out / "personas" / f"{name}.json").write_text(text, encoding="utf-8", newline="")
    (out / "personas" / "README.md").write_text(persona_readme(personas), encoding="utf-8", newline="")
    return {"products": len(catalog), "profiles": len(profiles), "events": len(events), "personas": len(personas)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="fixtures", help="output folder (default: fixtures)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: 42)")
    args = parser.parse_args(argv)
    counts = generate(Path(args.out), args.seed)
    print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" written to {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

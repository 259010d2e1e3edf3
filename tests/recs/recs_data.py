"""Small deterministic shop data with obvious structure for the recommendation tests."""

from __future__ import annotations

import pandas as pd

CATALOG = [
    {
        "id": "shoe-1",
        "title": "Trail running shoe",
        "description": "Light trail running shoe with grip",
        "category": "Shoes",
        "brand": "Acme",
        "price": 120.0,
        "currency": "EUR",
        "stock": 5,
        "image_url": "https://cdn.example.com/shoe-1.jpg",
        "url": "https://shop.example.com/p/shoe-1",
        "tags": "running|trail",
    },
    {
        "id": "sock-1",
        "title": "Running socks",
        "description": "Breathable socks for running",
        "category": "Socks",
        "brand": "Acme",
        "price": 12.0,
        "currency": "EUR",
        "stock": 50,
        "image_url": "https://cdn.example.com/sock-1.jpg",
        "url": "https://shop.example.com/p/sock-1",
        "tags": "running",
    },
    {
        "id": "shoe-2",
        "title": "Road running shoe",
        "description": "Cushioned road running shoe",
        "category": "Shoes",
        "brand": "Zoom",
        "price": 140.0,
        "currency": "EUR",
        "stock": 3,
        "image_url": "https://cdn.example.com/shoe-2.jpg",
        "url": "https://shop.example.com/p/shoe-2",
        "tags": "running|road",
    },
    {
        "id": "jacket-1",
        "title": "Rain jacket",
        "description": "Waterproof hiking rain jacket",
        "category": "Jackets",
        "brand": "Peak",
        "price": 200.0,
        "currency": "EUR",
        "stock": 2,
        "image_url": "https://cdn.example.com/jacket-1.jpg",
        "url": "https://shop.example.com/p/jacket-1",
        "tags": "hiking|rain",
    },
    {
        "id": "jacket-2",
        "title": "Fleece jacket",
        "description": "Warm fleece jacket for hiking",
        "category": "Jackets",
        "brand": "Peak",
        "price": 90.0,
        "currency": "EUR",
        "stock": 0,
        "image_url": "https://cdn.example.com/jacket-2.jpg",
        "url": "https://shop.example.com/p/jacket-2",
        "tags": "hiking|warm",
    },
    {
        "id": "jacket-3",
        "title": "Down jacket",
        "description": "Warm down jacket for winter hiking",
        "category": "Jackets",
        "brand": "Frost",
        "price": 250.0,
        "currency": "EUR",
        "stock": 4,
        "image_url": "https://cdn.example.com/jacket-3.jpg",
        "url": "https://shop.example.com/p/jacket-3",
        "tags": "hiking|warm",
    },
    {
        "id": "pan-1",
        "title": "Cast iron pan",
        "description": "Heavy cast iron frying pan",
        "category": "Kitchen",
        "brand": "Forge",
        "price": 60.0,
        "currency": "EUR",
        "stock": 10,
        "image_url": "https://cdn.example.com/pan-1.jpg",
        "url": "https://shop.example.com/p/pan-1",
        "tags": "cooking",
    },
    {
        "id": "pan-2",
        "title": "Steel saucepan",
        "description": "Stainless steel saucepan for cooking",
        "category": "Kitchen",
        "brand": "Forge",
        "price": 45.0,
        "currency": "EUR",
        "stock": 10,
        "image_url": "https://cdn.example.com/pan-2.jpg",
        "url": "https://shop.example.com/p/pan-2",
        "tags": "cooking",
    },
    {
        "id": "knife-1",
        "title": "Chef knife",
        "description": "Sharp steel chef knife for cooking",
        "category": "Kitchen",
        "brand": "Blade",
        "price": 80.0,
        "currency": "EUR",
        "stock": 7,
        "image_url": "https://cdn.example.com/knife-1.jpg",
        "url": "https://shop.example.com/p/knife-1",
        "tags": "cooking",
    },
    # a brand-new product nobody has interacted with yet (cold start)
    {
        "id": "shoe-3",
        "title": "Trail running shoe waterproof",
        "description": "Waterproof trail running shoe with grip",
        "category": "Shoes",
        "brand": "Acme",
        "price": 150.0,
        "currency": "EUR",
        "stock": 8,
        "image_url": "https://cdn.example.com/shoe-3.jpg",
        "url": "https://shop.example.com/p/shoe-3",
        "tags": "running|trail",
    },
]


def make_interactions() -> pd.DataFrame:
    """Runners buy shoe-1 with sock-1; hikers view jacket-1 and buy jacket-3; cooks buy pans."""
    rows = []
    t0 = pd.Timestamp("2026-11-01T12:00:00Z")
    for u in range(10):
        rows.append((f"runner-{u}", "shoe-1", "Order Completed", t0 + pd.Timedelta(days=u)))
        rows.append((f"runner-{u}", "sock-1", "Order Completed", t0 + pd.Timedelta(days=u)))
    for u in range(3):
        rows.append((f"roadie-{u}", "shoe-2", "Product Viewed", t0))
    for u in range(6):
        rows.append((f"hiker-{u}", "jacket-1", "Product Viewed", t0 + pd.Timedelta(days=u)))
        rows.append((f"hiker-{u}", "jacket-3", "Product Added", t0 + pd.Timedelta(days=u)))
    for u in range(4):
        rows.append((f"cook-{u}", "pan-1", "Order Completed", t0 + pd.Timedelta(days=u)))
        rows.append((f"cook-{u}", "pan-2", "Order Completed", t0 + pd.Timedelta(days=u)))
        rows.append((f"cook-{u}", "knife-1", "Product Viewed", t0 + pd.Timedelta(days=u)))
    return pd.DataFrame(rows, columns=["user_id", "product_id", "event", "timestamp"])


def event(name: str, product_id: str, ts: str = "2026-11-20T10:00:00Z") -> dict:
    props = {"products": [{"product_id": product_id}]} if name == "Order Completed" else {"product_id": product_id}
    return {
        "type": "track",
        "event": name,
        "timestamp": ts,
        "messageId": f"{name}-{product_id}-{ts}",
        "properties": props,
    }


def profile(events: list[dict], consent: bool = True, pid: str = "u-1") -> dict:
    return {
        "id": pid,
        "email": f"{pid}@example.com",
        "traits": {"first_name": "Ann"},
        "consents": {"personalization": consent, "tracking": True, "email_marketing": True},
        "events": events,
    }

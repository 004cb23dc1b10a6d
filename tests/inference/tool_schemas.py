"""Varied tool schemas for the structured-outputs tests: (name, parameters, what to ask)."""

from __future__ import annotations

from typing import Any

SCHEMAS: list[tuple[str, dict[str, Any] | None, str]] = [
    ("ping", None, "check the service is up"),
    ("list_files", {"type": "object", "properties": {}}, "list the files"),
    (
        "search",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        "search for cheap flights to Rome",
    ),
    (
        "set_mode",
        {
            "type": "object",
            "properties": {"mode": {"type": "string", "enum": ["eco", "normal", "sport"]}},
            "required": ["mode"],
        },
        "switch the car to sport mode",
    ),
    (
        "set_volume",
        {
            "type": "object",
            "properties": {"level": {"type": "integer", "minimum": 0, "maximum": 10}},
            "required": ["level"],
        },
        "set the volume to 7",
    ),
    (
        "set_temperature",
        {
            "type": "object",
            "properties": {
                "celsius": {"type": "number", "exclusiveMinimum": -50, "exclusiveMaximum": 60}
            },
            "required": ["celsius"],
        },
        "make the room 21.5 degrees",
    ),
    (
        "toggle_light",
        {"type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]},
        "turn the light off",
    ),
    (
        "tag_photo",
        {
            "type": "object",
            "properties": {
                "tags": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 20},
                    "minItems": 1,
                    "maxItems": 3,
                }
            },
            "required": ["tags"],
        },
        "tag the photo as beach and sunset",
    ),
    (
        "create_user",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 40},
                "address": {
                    "type": "object",
                    "properties": {
                        "street": {"type": "string", "maxLength": 60},
                        "city": {"type": "string", "maxLength": 40},
                        "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
                    },
                    "required": ["city", "zip"],
                },
            },
            "required": ["name", "address"],
        },
        "create Ann, who lives in Berlin, 10115",
    ),
    (
        "add_items",
        {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "maxItems": 4,
                    "items": {
                        "type": "object",
                        "properties": {
                            "sku": {"type": "string", "maxLength": 12},
                            "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
                        },
                        "required": ["sku", "quantity"],
                    },
                }
            },
            "required": ["items"],
        },
        "add two of A12 and one of B7 to the cart",
    ),
    (
        "book_table",
        {
            "type": "object",
            "properties": {
                "people": {"type": "integer", "minimum": 1, "maximum": 20},
                "note": {"type": "string", "maxLength": 50},
                "outdoor": {"type": "boolean"},
            },
            "required": ["people"],
        },
        "book a table for 4",
    ),
    (
        "schedule",
        {
            "type": "object",
            "properties": {"day": {"type": "string", "format": "date"}},
            "required": ["day"],
        },
        "schedule it for 2025-03-14",
    ),
    (
        "send_email",
        {
            "type": "object",
            "properties": {
                "to": {"type": "string", "format": "email"},
                "subject": {"type": "string", "maxLength": 60},
            },
            "required": ["to", "subject"],
        },
        "email bob@example.com about lunch",
    ),
    (
        "lookup_airport",
        {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}},
            "required": ["code"],
        },
        "look up the airport CDG",
    ),
    (
        "rename",
        {
            "type": "object",
            "properties": {"title": {"type": "string", "minLength": 3, "maxLength": 30}},
            "required": ["title"],
        },
        "rename the document to Q3 report",
    ),
    (
        "draw_shape",
        {
            "type": "object",
            "$defs": {
                "point": {
                    "type": "object",
                    "properties": {
                        "x": {"type": "integer", "minimum": -100, "maximum": 100},
                        "y": {"type": "integer", "minimum": -100, "maximum": 100},
                    },
                    "required": ["x", "y"],
                }
            },
            "properties": {
                "start": {"$ref": "#/$defs/point"},
                "end": {"$ref": "#/$defs/point"},
            },
            "required": ["start", "end"],
        },
        "draw a line from (0, 0) to (10, 5)",
    ),
    (
        "lookup_order",
        {
            "type": "object",
            "properties": {
                "id": {
                    "anyOf": [
                        {"type": "integer", "minimum": 0, "maximum": 10**9},
                        {"type": "string", "maxLength": 20},
                    ]
                }
            },
            "required": ["id"],
        },
        "find order 1234",
    ),
    (
        "update_nickname",
        {
            "type": "object",
            "properties": {"nickname": {"type": ["string", "null"], "maxLength": 20}},
            "required": ["nickname"],
        },
        "clear my nickname",
    ),
    (
        "confirm",
        {
            "type": "object",
            "properties": {
                "action": {"const": "delete"},
                "count": {"type": "integer", "minimum": 0},
            },
            "required": ["action", "count"],
        },
        "confirm deleting 3 files",
    ),
    (
        "rate",
        {
            "type": "object",
            "properties": {"stars": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
            "required": ["stars"],
        },
        "rate the film four stars",
    ),
    (
        "move_robot",
        {
            "type": "object",
            "properties": {
                "direction": {"type": "string", "enum": ["north", "south", "east", "west"]},
                "meters": {"type": "number", "minimum": 0, "maximum": 100},
                "speed": {"type": "string", "enum": ["slow", "fast"]},
            },
            "required": ["direction", "meters", "speed"],
            "additionalProperties": False,
        },
        "move the robot 3 meters north, slowly",
    ),
    (
        "plot",
        {
            "type": "object",
            "properties": {
                "series": {
                    "type": "array",
                    "maxItems": 3,
                    "items": {
                        "type": "array",
                        "maxItems": 4,
                        "items": {"type": "number", "minimum": -1000, "maximum": 1000},
                    },
                }
            },
            "required": ["series"],
        },
        "plot the series 1, 2, 3 and 4, 5",
    ),
]

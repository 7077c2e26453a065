#!/usr/bin/env python3
"""Writes Protocol/vectors/digest.json: golden vectors of the view digest (Protocol/README.md
section 14), computed by this second, independent implementation of the section. The Swift tests
(DigestVectorTests) check the reference implementation against the committed file.

    python3 scripts/digest-vectors.py
"""
import hashlib
import json
import struct
from pathlib import Path


def s(text):
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def counts(value):
    kind, payload = value
    return kind != "null" and not (kind == "set" and not payload)


def encode(collection, record_id, vector, fields):
    out = s(collection) + s(record_id)
    entries = sorted((int(r), c) for r, c in vector.items() if c > 0)
    out += struct.pack(">I", len(entries))
    for replica, counter in entries:
        out += struct.pack(">IQ", replica, counter)
    kept = sorted(((n, v) for n, v in fields.items() if counts(v)), key=lambda f: f[0].encode("utf-8"))
    out += struct.pack(">I", len(kept))
    for name, (kind, payload) in kept:
        out += s(name)
        if kind == "text":
            out += b"\x01" + s(payload)
        elif kind == "number":
            number = 0.0 if payload == 0 else float(payload)
            out += b"\x02" + struct.pack(">d", number)
        elif kind == "bool":
            out += b"\x03" + (b"\x01" if payload else b"\x00")
        elif kind == "date":
            out += b"\x04" + s(payload)
        elif kind == "set":
            items = sorted(set(payload), key=lambda i: i.encode("utf-8"))
            out += b"\x05" + struct.pack(">I", len(items)) + b"".join(s(i) for i in items)
    return out


def position(collection, record_id):
    return int.from_bytes(hashlib.sha256(s(collection) + s(record_id)).digest()[:8], "big") >> 4


RECORDS = [
    ("customers", "0b5e7c1a-3f2d-4e8b-9a61-2c4d5e6f7a80", {"7": 41, "3": 2},
     {"name": {"text": "Boulangerie Martin"}, "city": {"text": "Lyon"}, "lifetime_value": {"number": 12500.5},
      "active": {"bool": True}, "tags": {"set": ["vip", "bakery", "vip"]}, "since": {"date": "2024-03-01"},
      "phone": {"null": None}}),
    ("customers", "1c6f8d2b-4a3e-4f9c-8b72-3d5e6f7a8b91", {"12": 1},
     {"name": {"text": "Épicerie Zoë 東京"}, "lifetime_value": {"number": -0.0}, "tags": {"set": []}}),
    ("interactions", "2d7a9e3c-5b4f-4a0d-9c83-4e6f7a8b9ca2", {"1": 3, "0": 0},
     {"customer_id": {"text": "0b5e7c1a-3f2d-4e8b-9a61-2c4d5e6f7a80"}, "topic": {"text": "complaint"},
      "at": {"date": "2026-11-28T09:30:00Z"}, "resolved": {"bool": False}, "rating": {"number": 3}}),
    ("contacts", "3e8b0f4d-6c5a-4b1e-8d94-5f7a8b9cadb3", {}, {}),
]


def main():
    root = Path(__file__).resolve().parent.parent
    records = []
    xor_high = xor_low = 0
    for collection, record_id, vector, fields in RECORDS:
        plain = {n: (k, v) for n, f in fields.items() for k, v in f.items()}
        encoding = encode(collection, record_id, vector, plain)
        digest = hashlib.sha256(encoding).digest()[:16]
        xor_high ^= int.from_bytes(digest[:8], "big")
        xor_low ^= int.from_bytes(digest[8:], "big")
        records.append({
            "collection": collection, "id": record_id, "vector": vector, "fields": fields,
            "encoding": encoding.hex(), "position": f"{position(collection, record_id):015x}",
            "hash": digest.hex(),
        })
    view = {"count": len(records), "xor": (xor_high.to_bytes(8, "big") + xor_low.to_bytes(8, "big")).hex()}
    out = {
        "comment": "View digest golden vectors (Protocol/README.md section 14), written by scripts/digest-vectors.py. "
                   "Each field value is {kind: payload}; position is 15 hexadecimal digits.",
        "records": records, "view": view,
    }
    path = root / "Protocol" / "vectors" / "digest.json"
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

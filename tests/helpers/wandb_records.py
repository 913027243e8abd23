"""Reads an offline W&B run file (run-<id>.wandb): LevelDB-log framing of protobuf Records.

wandb ships no reader any more; the format is a 7-byte header (":W&B", magic, version), then
32 KiB blocks of chunks: CRC32 (4 bytes), length (2, little endian), type (1: full, 2: first,
3: middle, 4: last), payload.
"""

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path):
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", path
    position, pending = HEADER, b""
    while position + 7 <= len(data):
        left_in_block = BLOCK - position % BLOCK
        if left_in_block < 7:  # a block's tail too short for a chunk header is padding
            position += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        payload = data[position + 7:position + 7 + length]
        position += 7 + length
        if kind == 0 and length == 0:
            continue
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def history_and_config(path: Path) -> tuple[dict[str, list[tuple[int, float]]], dict]:
    """({metric: [(step, value), ...]}, {config key: value}) of an offline run file."""
    history, config = {}, {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            step = items.get("trainer/global_step", items.get("_step"))
            for key, value in items.items():
                if isinstance(value, (int, float)) and not key.startswith("_"):
                    history.setdefault(key, []).append((step, value))
        elif kind == "config":
            for item in record.config.update:
                config[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return history, config

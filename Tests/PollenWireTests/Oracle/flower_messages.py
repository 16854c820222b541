"""Flower 1.42's own encoding of a set of messages, for Pollen's byte-compatibility tests.

Prints one JSON document: a list of cases, each with the message id Flower computes and every object of the
message (id -> base64 of the object's bytes), as Flower's SuperLink would store them.
"""
import base64
import json

import numpy as np

from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict
from flwr.app.error import Error
from flwr.app.message.array import Array
from flwr.app.message.message import make_message
from flwr.app.metadata import Metadata
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects


def metadata(**overrides) -> Metadata:
    fields = dict(run_id=42, message_id="", src_node_id=1, dst_node_id=123, reply_to_message_id="", group_id="3",
                  created_at=1795368175.402586, ttl=43200.0, message_type="train", src_task_id=7)
    fields.update(overrides)
    return Metadata(**fields)


def arrays(named: dict) -> ArrayRecord:
    return ArrayRecord({key: Array(value) for key, value in named.items()})


def case(name, message):
    objects = get_all_nested_objects(message)
    return {
        "name": name,
        "message_id": message.object_id,
        "objects": {oid: base64.b64encode(obj.deflate()).decode() for oid, obj in objects.items()},
    }


rng = np.random.default_rng(0)
cases = [
    case("model and config", make_message(metadata=metadata(), content=RecordDict({
        "arrays": arrays({
            "weight": rng.standard_normal((10, 64)).astype(np.float32),
            "bias": np.zeros(10, dtype=np.float32),
        }),
        "config": ConfigRecord({"server-round": 3, "lr": 0.05, "name": "fedavg", "flag": True, "blob": b"\x00\x01",
                                "ints": [1, 2, 3], "floats": [0.5, 1.5], "names": ["a", "b"], "flags": [True, False]}),
    }))),
    case("every dtype", make_message(metadata=metadata(message_type="query"), content=RecordDict({
        "arrays": arrays({
            "f64": np.arange(6, dtype=np.float64).reshape(2, 3),
            "i64": np.array([-1, 2**40], dtype=np.int64),
            "i32": np.array([[1], [2]], dtype=np.int32),
            "u8": np.array([0, 255], dtype=np.uint8),
            "b": np.array([True, False, True]),
            "scalar": np.array(3.5, dtype=np.float32),
            "empty": np.zeros((0, 4), dtype=np.float32),
        }),
    }))),
    case("chunked array", make_message(metadata=metadata(), content=RecordDict({
        # 12 MiB of float32: three 5 MiB chunks, the first two identical zeros.
        "arrays": arrays({"big": np.concatenate([np.zeros(5 * 2**18 * 2, np.float32), np.ones(2**20 // 2, np.float32)])}),
    }))),
    case("reply with metrics", make_message(
        metadata=metadata(src_node_id=123, dst_node_id=1, reply_to_message_id="ab" * 32, src_task_id=None,
                          dst_task_id=7, ttl=43000.25),
        content=RecordDict({
            "metrics": MetricRecord({"num-examples": 500, "train-loss": 0.125, "per-class": [0.5, 0.25], "counts": [3, 4]}),
            "näme ünicode \"quoted\"": ConfigRecord({"k\u00e9y": "v\u00e4lue \U0001F600"}),
        }),
    )),
    case("error reply", make_message(
        metadata=metadata(src_node_id=123, dst_node_id=1, reply_to_message_id="cd" * 32, src_task_id=None),
        error=Error(code=2, reason="ClientApp raised: boom"),
    )),
    case("empty content", make_message(metadata=metadata(), content=RecordDict())),
]
print(json.dumps(cases))

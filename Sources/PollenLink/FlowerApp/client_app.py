"""Pollen's built-in apps as a Flower ClientApp, for Flower SuperNodes in a Pollen federation.

A Pollen SuperLink serves this file in the app bundle of every run, so a site running Flower's SuperNode takes part
as a Pollen SuperNode would:

- `tabular` (the default app) answers the feature survey (`query`), trains (`train`) and evaluates (`evaluate`) on
  the site's CSV, named in the node's config as on a Pollen node (`flower-supernode --node-config
  "data-path='/data/site.csv' label='diagnosis'"`; also `test-fraction`, default 0.2, and `seed`, default 0). It
  does what Pollen's Swift ClientApp does, step for step: the same held-out rows (the same stratified split from
  the same xoshiro256** generator), the same mini-batches in the same order, the same float32 arithmetic up to
  rounding, so a Flower site's update is the one a Pollen node would send.
- `model-transfer` adds 0.001 to every float32 array and reports `num-examples` 1.
"""

import csv
import math

import numpy as np

from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()

MASK = (1 << 64) - 1
# Adam's settings, in float32 as Pollen computes them.
ONE, BETA1, BETA2 = np.float32(1), np.float32(0.9), np.float32(0.999)


class SeededGenerator:
    """Pollen's `SeededGenerator`: xoshiro256** seeded by splitmix64, with streams hashed into the seed."""

    def __init__(self, seed, stream=()):
        state = [seed & MASK]

        def split_mix():
            state[0] = (state[0] + 0x9E3779B97F4A7C15) & MASK
            z = state[0]
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            return z ^ (z >> 31)

        for value in stream:
            state[0] = split_mix() ^ ((value * 0x9E3779B97F4A7C15) & MASK)
        self.s = [split_mix() for _ in range(4)]

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_int_below(self, bound):
        """Lemire's nearly divisionless method, as Pollen draws an index."""
        product = self.next() * bound
        if product & MASK < bound:
            threshold = ((1 << 64) - bound) % bound
            while product & MASK < threshold:
                product = self.next() * bound
        return product >> 64

    def shuffle(self, values):
        """Fisher-Yates from the end, in place."""
        for i in range(len(values) - 1, 0, -1):
            j = self.next_int_below(i + 1)
            if i != j:
                values[i], values[j] = values[j], values[i]


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


# Data


def _class_names(labels, path, column):
    """Class names in numeric order when every label is a finite number, text order otherwise."""
    numbers = {}
    for label in labels:
        try:
            value = float(label)
        except ValueError:
            return sorted(labels)
        if not math.isfinite(value):
            return sorted(labels)
        if value in numbers and numbers[value] != label:
            raise ValueError(f"'{path}': the label column '{column}' writes one class two ways ('{numbers[value]}' and '{label}')")
        numbers[value] = label
    return [numbers[value] for value in sorted(numbers)]


def read_csv(path, label_column):
    """The features (float32, one row per line) and class indices of a CSV with a header row."""
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if not rows:
        raise ValueError(f"'{path}' is empty; it needs a header row and data rows")
    names = [name.strip() for name in rows[0]]
    if label_column not in names:
        raise ValueError(f"'{path}' has no label column '{label_column}' (its columns: {', '.join(names)}); set the node config 'label'")
    label_index = names.index(label_column)
    feature_indices = [i for i in range(len(names)) if i != label_index]
    features, labels = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise ValueError(f"'{path}', row {line}: {len(row)} cells for {len(names)} columns")
        try:
            features.append([float(row[i]) for i in feature_indices])
        except ValueError as error:
            raise ValueError(f"'{path}', row {line}: a feature is not a number ({error})") from None
        labels.append(row[label_index].strip())
    classes = _class_names(set(labels), path, label_column)
    index = {name: position for position, name in enumerate(classes)}
    return np.asarray(features, dtype=np.float32).reshape(len(labels), len(feature_indices)), np.asarray([index[label] for label in labels], dtype=np.int64)


def split_rows(labels, test_fraction, seed):
    """Pollen's stratified `TrainTestSplit`: each class shuffled on its own, about `test_fraction` of it held out."""
    generator = SeededGenerator(seed, [0x73706C6974])  # "split"
    train, test = [], []
    for label in sorted(set(labels.tolist())):
        group = [row for row in range(len(labels)) if labels[row] == label]
        generator.shuffle(group)
        held = max(min(len(group) - 1, int(math.floor(len(group) * test_fraction + 0.5))), 0)
        test += group[:held]
        train += group[held:]
    return sorted(train), sorted(test)


def node_data(context):
    """The node's training and held-out rows, from its node config."""
    path = str(context.node_config.get("data-path", ""))
    if not path:
        raise ValueError("this SuperNode has no data; start it with --node-config \"data-path='FILE.csv' label='COLUMN'\"")
    features, labels = read_csv(path, str(context.node_config.get("label", "label")))
    train, test = split_rows(labels, float(context.node_config.get("test-fraction", 0.2)), int(context.node_config.get("seed", 0)))
    return (features[train], labels[train]), (features[test], labels[test])


def standardize(features, mean, std):
    """Pollen's `Standardizer`: (x - mean) / std in float32, a deviation of (nearly) zero counting as 1."""
    if len(mean) != features.shape[1]:
        raise ValueError(f"the federation's statistics cover {len(mean)} features, this node's data has {features.shape[1]}")
    deviations = np.asarray([s if s > 1e-12 and math.isfinite(s) else 1.0 for s in std])
    shift = np.asarray(mean, dtype=np.float32)
    scale = (1 / deviations).astype(np.float32)
    return ((features - shift) * scale).astype(np.float32)


# Model


class Task:
    """What a train or evaluate message asks for: the model, its settings, and the federation's statistics."""

    def __init__(self, msg):
        config = msg.content["config"]
        self.arrays = msg.content["arrays"]
        self.config = config
        self.class_count = int(config.get("num-classes", 2))
        self.round = int(config.get("server-round", 0))
        self.seed = int(config.get("seed", 42))
        self.model = str(config.get("model", "logistic"))
        self.mean = config.get("feature-mean")
        self.std = config.get("feature-std")

    def prepare(self, features):
        """The rows standardised with the federation's statistics, when the message carries them."""
        if self.mean is None or self.std is None:
            return features
        return standardize(features, self.mean, self.std)

    def layers(self):
        """The (weight, bias) arrays, input to output, named as Pollen names them."""
        if "weight" in self.arrays:
            keys = [("weight", "bias")]
        else:
            count = sum(1 for name in self.arrays if name.endswith(".weight"))
            keys = [(f"layers.{l}.weight", f"layers.{l}.bias") for l in range(count)]
        layers = []
        for weight, bias in keys:
            if weight not in self.arrays or bias not in self.arrays:
                raise ValueError(f"the model arrays lack '{weight}' or '{bias}' (they hold {list(self.arrays)})")
            layers.append([self.arrays[weight].numpy().astype(np.float32).copy(), self.arrays[bias].numpy().astype(np.float32).copy()])
        return keys, layers


def _forward(layers, x):
    """The activations of every layer; the last is the output layer's logits."""
    activations = [x]
    for index, (weight, bias) in enumerate(layers):
        z = activations[-1] @ weight.T + bias
        if index < len(layers) - 1:
            z = np.maximum(z, 0)
        activations.append(z.astype(np.float32))
    return activations


def _output(logits, labels):
    """Per-row losses and the loss's gradient with respect to the logits."""
    if logits.shape[1] == 1:
        z = logits[:, 0]
        y = (labels == 1).astype(np.float32)
        losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return losses, (1 / (1 + np.exp(-z)) - y)[:, None]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    probabilities = np.exp(shifted - log_sum[:, None])
    losses = log_sum - shifted[np.arange(len(labels)), labels]
    delta = probabilities.copy()
    delta[np.arange(len(labels)), labels] -= 1
    return losses, delta


def train_layers(layers, features, labels, config, generator):
    """Pollen's mini-batch training, in place; returns the mean loss over every row of every epoch."""
    epochs = int(config.get("local-epochs", 1))
    batch_size = int(config.get("batch-size", 32))
    rate = np.float32(config.get("learning-rate", 0.1))
    optimizer = str(config.get("optimizer", "sgd"))
    momentum = np.float32(config.get("momentum", 0.0))
    flat = [array for layer in layers for array in layer]
    moments = [[np.zeros_like(array) for array in flat], [np.zeros_like(array) for array in flat]]
    steps = 0
    order = list(range(len(labels)))
    loss_sum = 0.0
    for _ in range(epochs):
        generator.shuffle(order)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            x, y = features[rows], labels[rows]
            activations = _forward(layers, x)
            losses, delta = _output(activations[-1], y)
            loss_sum += float(losses.astype(np.float64).sum())
            delta = (delta / np.float32(len(rows))).astype(np.float32)
            gradients = [None] * len(flat)
            for l in range(len(layers) - 1, -1, -1):
                gradients[2 * l] = delta.T @ activations[l]
                gradients[2 * l + 1] = delta.sum(axis=0)
                if l > 0:
                    delta = (delta @ layers[l][0]) * (activations[l] > 0)
            steps += 1
            for i, (array, gradient) in enumerate(zip(flat, gradients)):
                if optimizer == "adam":
                    m, v = moments[0][i], moments[1][i]
                    m[...] = BETA1 * m + (ONE - BETA1) * gradient
                    v[...] = BETA2 * v + (ONE - BETA2) * gradient * gradient
                    step = rate / (ONE - BETA1 ** np.float32(steps))
                    array -= step * m / (np.sqrt(v / (ONE - BETA2 ** np.float32(steps))) + np.float32(1e-8))
                elif momentum != 0:
                    velocity = moments[0][i]
                    velocity[...] = momentum * velocity + gradient
                    array -= rate * velocity
                else:
                    array -= rate * gradient
    visited = len(labels) * epochs
    return loss_sum / visited if visited else 0.0


def evaluate_layers(layers, features, labels):
    """Mean cross-entropy (probabilities clamped at 1e-7), accuracy, and ROC AUC for binary models."""
    logits = _forward(layers, features)[-1]
    if logits.shape[1] == 1:
        p = 1 / (1 + np.exp(-logits[:, 0]))
        predicted = (p >= 0.5).astype(np.int64)
        of_label = np.where(labels == 1, p, 1 - p)
    else:
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        predicted = probabilities.argmax(axis=1)
        of_label = probabilities[np.arange(len(labels)), labels]
    metrics = {
        "num-examples": int(len(labels)),
        "eval-loss": float(-np.log(np.maximum(of_label, 1e-7).astype(np.float64)).mean()) if len(labels) else 0.0,
        "eval-accuracy": int((predicted == labels).sum()) / len(labels) if len(labels) else 0.0,
    }
    if logits.shape[1] == 1 and 0 < labels.sum() < len(labels):
        metrics["eval-auc"] = _roc_auc(p.astype(np.float64), labels)
    return metrics


def _roc_auc(scores, labels):
    """The ROC AUC from average ranks over tied scores."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        ranks[order[start:end + 1]] = (start + end + 2) / 2
        start = end + 1
    positives = float((labels == 1).sum())
    negatives = len(labels) - positives
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


# Handlers


def _app_name(context):
    return str(context.run_config.get("app", "tabular"))


@app.query()
def query(msg: Message, context: Context) -> Message:
    """The feature survey: sums, sums of squares and class counts of the training rows."""
    (features, labels), _ = node_data(context)
    wide = features.astype(np.float64)
    metrics = MetricRecord({
        "num-examples": int(len(labels)),
        "feature-sum": wide.sum(axis=0).tolist(),
        "feature-sum-sq": (wide * wide).sum(axis=0).tolist(),
        "class-counts": np.bincount(labels).astype(int).tolist(),
    })
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    if _app_name(context) == "model-transfer":
        return _transfer(msg)
    task = Task(msg)
    (features, labels), _ = node_data(context)
    features = task.prepare(features)
    keys, layers = task.layers()
    generator = SeededGenerator(task.seed, [context.node_id & MASK, task.round])
    loss = train_layers(layers, features, labels, task.config, generator)
    if not math.isfinite(loss) or not all(np.isfinite(array).all() for layer in layers for array in layer):
        raise RuntimeError(f"training diverged (the loss is not finite) at learning-rate {task.config.get('learning-rate', 0.1)}; lower it")
    trained = ArrayRecord()
    for (weight, bias), (weights, biases) in zip(keys, layers):
        trained[weight] = Array(weights)
        trained[bias] = Array(biases)
    metrics = MetricRecord({"num-examples": int(len(labels)), "train-loss": float(loss)})
    return Message(content=RecordDict({"arrays": trained, "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    if _app_name(context) == "model-transfer":
        raise RuntimeError("the model-transfer app does not evaluate")
    task = Task(msg)
    _, (features, labels) = node_data(context)
    _, layers = task.layers()
    metrics = evaluate_layers(layers, task.prepare(features), labels)
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)


def _transfer(msg):
    """The model-transfer app: every float32 array plus 0.001."""
    trained = ArrayRecord()
    for name, array in msg.content["arrays"].items():
        values = array.numpy()
        if values.dtype != np.float32:
            raise RuntimeError(f"the model-transfer app trains float32 arrays, got {values.dtype} for '{name}'")
        trained[name] = Array(values + np.float32(0.001))
    content = RecordDict({"arrays": trained, "metrics": MetricRecord({"num-examples": 1})})
    return Message(content=content, reply_to=msg)

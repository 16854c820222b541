"""Workload shared by the Flower and plain-NumPy benchmarks.

Softmax regression on synthetic data, in float32. The Swift side of the
benchmark implements exactly the same data generation and arithmetic.
"""

import numpy as np

FEATURES = 64
CLASSES = 10
BATCH_SIZE = 32
LEARNING_RATE = 0.1
TEST_SAMPLES = 2_000
TEST_SEED = 999_999


def initial_params() -> tuple[np.ndarray, np.ndarray]:
    """Zero-initialised (weight [CLASSES, FEATURES], bias [CLASSES])."""
    return (
        np.zeros((CLASSES, FEATURES), dtype=np.float32),
        np.zeros(CLASSES, dtype=np.float32),
    )


def class_centers(seed: int) -> np.ndarray:
    """Class centres shared by every client and by the test set."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (CLASSES, FEATURES)).astype(np.float32)


def sample(
    centers: np.ndarray, rng: np.random.Generator, samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw labels, then features = centre of the label + uniform noise."""
    y = rng.integers(0, CLASSES, samples)
    x = centers[y] + rng.uniform(-1, 1, (samples, FEATURES)).astype(np.float32)
    return x, y


def client_rng(seed: int, partition_id: int) -> np.random.Generator:
    return np.random.default_rng(seed * 1_000_003 + partition_id + 1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    # Subtracting the row maximum keeps exp() from overflowing.
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train_client(
    weight: np.ndarray,
    bias: np.ndarray,
    seed: int,
    partition_id: int,
    samples: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One local epoch of mini-batch SGD on the client's freshly generated data.

    Returns the updated (weight, bias) and the mean per-sample cross-entropy
    over the epoch (each sample's loss taken before its batch's update).
    """
    rng = client_rng(seed, partition_id)
    x, y = sample(class_centers(seed), rng, samples)
    # The shuffle comes from the same generator, after the data.
    order = rng.permutation(samples)

    w = weight.astype(np.float32, copy=True)
    b = bias.astype(np.float32, copy=True)
    loss_sum = 0.0
    for start in range(0, samples, BATCH_SIZE):
        idx = order[start : start + BATCH_SIZE]
        xb, yb = x[idx], y[idx]
        n = len(idx)
        probs = _softmax(xb @ w.T + b)
        loss_sum += float(-np.log(probs[np.arange(n), yb]).sum())
        # d(mean cross-entropy)/d(logits) = (softmax - one_hot) / n
        grad = probs
        grad[np.arange(n), yb] -= 1.0
        grad /= n
        w -= LEARNING_RATE * (grad.T @ xb)
        b -= LEARNING_RATE * grad.sum(axis=0)
    return w, b, loss_sum / samples


def accuracy(weight: np.ndarray, bias: np.ndarray, seed: int) -> float:
    """Accuracy on a fresh test set drawn with TEST_SEED around the same centres."""
    x, y = sample(class_centers(seed), np.random.default_rng(TEST_SEED), TEST_SAMPLES)
    predictions = (x @ weight.T + bias).argmax(axis=1)
    return float((predictions == y).mean())

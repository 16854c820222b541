"""Model-transfer benchmark app (Flower 1.42 side of bench/transfer)."""

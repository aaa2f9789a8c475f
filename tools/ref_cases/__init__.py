"""One module per op family; each defines cases() -> {name: numpy array}."""

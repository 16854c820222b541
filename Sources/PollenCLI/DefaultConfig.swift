/// The embedded default of `pollen simulate`: the breast-cancer set across 10 simulated hospitals with
/// Dirichlet(0.5) label skew, logistic regression, FedAvg, 20 rounds. A `pollen.toml` has the same shape.
enum DefaultConfig {
    static let toml = """
        # Pollen app configuration: the default of `pollen simulate`.

        [app]
        name = "tabular"

        # Run configuration: every key can be overridden with --run-config key=value.
        [app.config]
        num-server-rounds = 20
        model = "logistic"            # logistic | softmax | mlp
        hidden-layers = "64"          # MLP hidden widths, comma-separated
        optimizer = "sgd"             # sgd | adam
        momentum = 0.0
        learning-rate = 0.1
        local-epochs = 1
        batch-size = 32
        fraction-train = 1.0
        fraction-evaluate = 1.0
        min-train-nodes = 2
        min-evaluate-nodes = 2
        min-available-nodes = 2
        accepted-failure-fraction = 0.5
        standardize = true
        seed = 42

        # The simulated federation: data, partitioning, nodes and injected failures.
        [simulation]
        num-supernodes = 10
        dataset = "breast-cancer"     # breast-cancer | digits | a path to a CSV file
        label = ""                    # the label column of a CSV file
        partitioner = "dirichlet"     # iid | dirichlet | column
        dirichlet-alpha = 0.5
        partition-column = ""         # the column to partition by, with partitioner = "column"
        test-fraction = 0.2           # global test split, stratified
        local-test-fraction = 0.2     # each node's held-out rows for federated evaluation
        failure-rate = 0.0            # share of messages whose ClientApp fails
        timeout-rate = 0.0            # share of messages whose reply never arrives
        output = "runs"               # where run artifacts are written; "" writes none
        """
}

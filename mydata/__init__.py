"""The mydata command and the demo: the one place that wires the parties together."""

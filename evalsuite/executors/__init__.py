"""Executors run one engine round's requests on the model: in this process (`local`) or on Ray replicas (`ray`)."""

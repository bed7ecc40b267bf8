"""Gateway: the payment data plane (nodes, ledger, load balancer, fault injection)."""

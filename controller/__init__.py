"""Controller: control loop, pure planner, pool backends, simulator, REST API and CLI."""

"""The Chirp stack on Docker Swarm: the stack file generated from docker-compose.yml
(`stackfile`), the deploy, wait and removal (`deploy`), and the `edge` relay that publishes the
gateway and Locust on a host address (`edge`). `python -m stack.swarm up|down|render`."""

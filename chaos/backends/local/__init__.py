"""The local backend: the services as local processes (driver), its faults and the processes
themselves."""

"""Solve functions that never return, injected into a SolverPool's child processes (they must be
importable there, hence a module of their own)."""
import time


def solve_spinning(job, channel, stop):
    """Ignores the stop request and its time limit: spins on the CPU forever."""
    while True:
        pass


def solve_sleeping(job, channel, stop):
    """Ignores the stop request and its time limit: sleeps forever."""
    while True:
        time.sleep(3600)

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


def solve_holding_the_gil(job, channel, stop):
    """Stays inside one C call that never lets go of the GIL (as a native search can): no Python
    thread of the child runs meanwhile."""
    while True:
        sum(range(10 ** 15))

"""The job runner: how a queued plan gets solved, outside the request that asked for it.

| module | what |
|---|---|
| `submit.py` | `JobSubmitter`: a new plan goes on the Redis Stream, or, Redis down, is solved in this process |
| `stream.py` | the Redis Stream (consumer group): enqueue, read, take over, renew, hand back, acknowledge |
| `consumer.py` | `StreamConsumer`: reads jobs, runs them, renews and acknowledges them, sweeps lost plans |
| `run.py` | `run_plan`: one job — claim (attempt counter), build, solve with heartbeat, progress, cancel, store |
| `pool.py` | `SolverPool`: solver processes, progress and stop channels, the watchdog |
| `parent_death.py` | child processes that end with their parent, whatever killed it |
| `lifecycle.py` | the runner inside `circle serve` (`background_ctx`) and as `circle worker` (`run_worker`), signals |

Guarantees (the database row is the plan's only copy and its lock): a crashed consumer's job is
taken over (XAUTOCLAIM); one solve per plan version (the claim's attempt counter fences every
write); progress and cancel through the plan row; a solve that never returns is abandoned by
the watchdog; with Redis down plans still solve in the web process. Why not a job-queue
library: README.md, "Decisions".
"""

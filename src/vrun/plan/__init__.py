"""Planning: the selected sessions -> a plain, serializable plan (interpreters, env keys, lock-file
state), and the plan cache that memoizes it (docs/architecture.md). Never imports commands or an env build.
"""

"""Access control: accounts and roles, API tokens, the first-start setup code,
and the request guard that puts every route behind them (see guard.py)."""

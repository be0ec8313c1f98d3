"""Commissions: the NGR ledger, plans, CPA qualification and monthly statements."""

"""Exchange rates of the tokens Kassa accepts, for `GET /api/v1/constants/prices` (docs/payments.md, Prices)."""

"""Core routers: login/logout, the dashboard, administration and the audit trail."""

"""Services: each orchestrates one piece of work across the domain and the adapters."""

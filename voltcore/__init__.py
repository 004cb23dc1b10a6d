"""Server code shared by Volt's services: settings, Postgres, errors, identity, audit and usage."""

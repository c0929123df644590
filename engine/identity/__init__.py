"""Who is acting and what they may do: the actor, roles, sign-in and tokens, user administration, and the permission policy."""

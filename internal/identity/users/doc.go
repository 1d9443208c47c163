// Package users keeps gantry's local users: User objects for who they are, a
// Secret per user in gantry's namespace for the bcrypt hash of their password
// (never the password), and the bootstrap of the first admin.
package users

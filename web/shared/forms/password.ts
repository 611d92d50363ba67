// The node's password rules (identity/passwords.py: check_strength), checked before sending so
// the user hears at once; the node checks again. Answers the node's own problem codes.
export type PasswordProblem = 'password_length' | 'password_too_simple' | 'password_unchanged'

export function passwordProblem(password: string, current?: string): PasswordProblem | null {
  if (password.length < 8 || password.length > 128) return 'password_length'
  if (!/[A-Za-z]/.test(password) || !/\d/.test(password)) return 'password_too_simple'
  if (current !== undefined && current !== '' && password === current) return 'password_unchanged'
  return null
}

import { describe, expect, it } from 'vitest'
import { passwordProblem } from './password'

describe('password rules (the node own)', () => {
  it('answers the node codes', () => {
    expect(passwordProblem('short1')).toBe('password_length')
    expect(passwordProblem('a1'.repeat(65))).toBe('password_length')
    expect(passwordProblem('onlyletters')).toBe('password_too_simple')
    expect(passwordProblem('12345678')).toBe('password_too_simple')
    expect(passwordProblem('Secret-123', 'Secret-123')).toBe('password_unchanged')
    expect(passwordProblem('Secret-123', 'Other-456')).toBeNull()
    expect(passwordProblem('密码密码abc123')).toBeNull()
  })
})

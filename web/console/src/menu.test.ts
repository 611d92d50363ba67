import { describe, expect, it } from 'vitest'
import { menuFor } from './menu'

describe('the sidebar by role', () => {
  it('shows the admin the dashboard and the operator the operator home', () => {
    expect(menuFor(['enterprise_admin']).map((m) => m.name)).toEqual(['dashboard', 'password'])
    expect(menuFor(['operator']).map((m) => m.name)).toEqual(['operator-home', 'password'])
    expect(menuFor(['employee']).map((m) => m.name)).toEqual(['password'])
  })
})

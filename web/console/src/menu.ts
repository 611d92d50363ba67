// The sidebar: which entries each role sees. Later pages add their entries here (and their
// routes in router.ts); an entry without `roles` is for every console account.
import type { Role } from '@shared/auth/store'

export interface MenuEntry {
  name: string
  title: string
  icon: 'odometer' | 'office' | 'lock'
  roles?: Role[]
}

export const MENU: readonly MenuEntry[] = [
  { name: 'dashboard', title: 'menu.dashboard', icon: 'odometer', roles: ['enterprise_admin'] },
  { name: 'operator-home', title: 'menu.operatorHome', icon: 'office', roles: ['operator'] },
  { name: 'password', title: 'menu.password', icon: 'lock' },
]

export function menuFor(roles: readonly Role[]): MenuEntry[] {
  return MENU.filter((m) => !m.roles || m.roles.some((r) => roles.includes(r)))
}

import { VueQueryPlugin, QueryClient } from '@tanstack/vue-query'
import { createPinia } from 'pinia'
import { createApp } from 'vue'
import 'element-plus/theme-chalk/base.css'
import { ApiError } from '@shared/api/problem'
import { createSharedI18n, initialLocale } from '@shared/i18n'
import App from './App.vue'
import { i18nKey } from './context'
import { consoleMessages } from './i18n'
import { createConsoleRouter } from './router'
import './styles.css'

const i18n = createSharedI18n(consoleMessages, initialLocale(localStorage))
document.documentElement.lang = i18n.global.locale.value

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      // A 4xx will answer the same again: only network and server errors are worth a retry.
      retry: (count, error) => count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
    },
  },
})

const app = createApp(App)
app.use(createPinia())
app.use(i18n)
app.provide(i18nKey, i18n)
app.use(VueQueryPlugin, { queryClient })
app.use(createConsoleRouter())
app.mount('#app')

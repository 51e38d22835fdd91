// A screen's data: loading flag, the API's error message, reload(). Reloads
// triggered by live events are coalesced (one in flight, one queued).
import { ref, type Ref } from 'vue'
import { errorMessage } from './api'

export function useLoad<T>(fetcher: () => Promise<T>) {
  const data = ref<T | null>(null) as Ref<T | null>
  const error = ref('')
  const loading = ref(false)
  let inFlight: Promise<void> | null = null
  let again = false
  async function reload(): Promise<void> {
    if (inFlight) {
      again = true
      return inFlight
    }
    loading.value = data.value === null
    inFlight = (async () => {
      do {
        again = false
        try {
          data.value = await fetcher()
          error.value = ''
        } catch (e) {
          error.value = errorMessage(e)
        }
      } while (again)
      loading.value = false
      inFlight = null
    })()
    return inFlight
  }
  return { data, error, loading, reload }
}

// Runs `action`, returns its error message ('' on success).
export async function attempt(action: () => Promise<unknown>): Promise<string> {
  try {
    await action()
    return ''
  } catch (e) {
    return errorMessage(e)
  }
}

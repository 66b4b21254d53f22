// The slice of autocannon's API the server benchmark uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string
      setupRequest?: (req: Request) => Request
    }
    interface Histogram {
      average: number
      p50: number
      p99: number
      total: number
    }
    interface Result {
      requests: Histogram
      latency: Histogram
      non2xx: number
      errors: number
    }
  }
  function autocannon(o: {
    url: string
    connections?: number
    duration?: number
    requests?: autocannon.Request[]
  }): Promise<autocannon.Result>
  export default autocannon
}

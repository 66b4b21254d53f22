// express4 is `npm:express@^4`, installed under another name so both majors run the suite; the
// Express 5 types describe the part of its API the suite uses.
declare module 'express4' {
  import express from 'express'
  export default express
}

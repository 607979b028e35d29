import streamlit as st

st.title("about")
st.info("Coming soon.")
